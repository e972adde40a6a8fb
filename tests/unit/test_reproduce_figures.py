"""The reproduction pages' figure files: named from the spec alone, never two alike."""

import pytest

from environment.experiments.reproduce.papers import PAPERS, PaperSpec


def _spec(figures):
    return PaperSpec("zonal", "t", (), figures, lambda s, q: [], "")


def test_a_file_drawn_by_two_runs_keeps_both():
    spec = _spec((("a", "zonal", "stack.png"), ("b", "zonal_res", "stack.png"),
                  ("c", "zonal", "partition.png")))
    assert spec.figure_files() == ("zonal_stack.png", "zonal_res_stack.png",
                                   "zonal_partition.png")


def test_names_that_would_collide_are_refused():
    spec = _spec((("a", "zonal", "x_stack.png"), ("b", "zonal_x", "stack.png"),
                  ("c", "zonal", "stack.png"), ("d", "zonal_x", "stack.png")))
    with pytest.raises(ValueError, match="share a file name"):
        spec.figure_files()


@pytest.mark.parametrize("key", sorted(PAPERS))
def test_every_shipped_page_names_its_figures_apart(key):
    files = PAPERS[key].figure_files()
    assert len(set(files)) == len(files) == len(PAPERS[key].figures)
