"""Day planners behind one protocol (``environment.day_plan``), chosen by policy name.

* ``registry`` — the call policies and the planner of each planning policy;
* ``chance`` — the chance-constrained dispatch (``dispatch:oba|bonferroni|so|ro``);
* ``zonal`` — the zonal two-layer dispatch (``dispatch:zonal``), built on ``zonal_setup``
  (partition and distribution layer) and ``zonal_areas`` (aggregation layer).

Planners sit above the kernel: they are injected into ``CoSimModel``, which imports none of
them.
"""
