"""How ``montecarlo`` reaches a dask scheduler that runs elsewhere: address, scheduler file, TLS.

The options ``--scheduler ADDR``, ``--scheduler-file FILE`` and ``--tls-ca-file``,
``--tls-cert``, ``--tls-key`` are checked here before any work, without importing dask's
distributed stack: a bad value is refused in one line naming the option, the value and the fix
(exit 2).

* **Address.** ``tcp://HOST:PORT`` (unencrypted, dask's default) or ``tls://HOST:PORT``; a bare
  ``HOST:PORT`` means ``tcp://``. Other protocols are refused.
* **Scheduler file.** The JSON that ``dask scheduler --scheduler-file FILE`` writes; its
  ``address`` is used. It is read here (distributed's client would wait for a missing file
  forever).
* **TLS.** distributed's TLS is mutual: the client presents a certificate signed by the CA the
  scheduler trusts. With a ``tls://`` address give ``--tls-ca-file`` and ``--tls-cert`` (and
  ``--tls-key`` unless the key is in the certificate file), or set them in dask's configuration
  (``distributed.comm.tls.ca-file``, ``distributed.comm.tls.client.cert`` and ``.key``). TLS
  files with a ``tcp://`` address, or without a scheduler, are refused rather than ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scenarios.errors import InputError

if TYPE_CHECKING:
    from distributed import Security

SCHEMES = ("tcp", "tls")
TLS_FLAGS = ("--tls-ca-file", "--tls-cert", "--tls-key")


@dataclass(frozen=True)
class SchedulerLink:
    """An existing dask scheduler and what this machine needs to reach it.

    Attributes:
        address: ``tcp://HOST:PORT`` or ``tls://HOST:PORT``.
        source: The option the address came from, as typed (``--scheduler`` or
            ``--scheduler-file FILE``); messages name it.
        tls_ca_file: CA certificate(s) in PEM format that signed the scheduler's and the
            workers' certificates.
        tls_cert_file: This client's certificate in PEM format (may hold its key too).
        tls_key_file: This client's private key in PEM format, unless it is in
            ``tls_cert_file``.
    """

    address: str
    source: str
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @property
    def encrypted(self) -> bool:
        """Whether the link to the scheduler is TLS (``tls://``)."""
        return self.address.startswith("tls://")

    def security(self) -> Security | None:
        """The ``distributed.Security`` of the client, or ``None`` (dask's configuration)."""
        if self.tls_ca_file is None:
            return None
        from distributed import Security

        return Security(require_encryption=True, tls_ca_file=str(self.tls_ca_file),
                        tls_client_cert=str(self.tls_cert_file),
                        tls_client_key=None if self.tls_key_file is None
                        else str(self.tls_key_file))


def checked_address(address: str, source: str) -> str:
    """``address`` with its scheme (``tcp://`` when none was given), checked.

    Args:
        address: What the user gave, e.g. ``tcp://10.0.0.5:8786`` or ``10.0.0.5:8786``.
        source: The option named in the message (``--scheduler`` or ``--scheduler-file F``).

    Raises:
        InputError: Another protocol, no host, or no port in 1..65535.
    """
    text = address.strip()
    if "://" not in text:
        text = f"tcp://{text}"
    fix = "give tcp://HOST:PORT or tls://HOST:PORT, e.g. tcp://10.0.0.5:8786"
    parts = urlsplit(text)
    if parts.scheme not in SCHEMES:
        raise InputError(f"{source}: {address!r} uses protocol {parts.scheme!r}; {fix}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or not 0 < port < 65536 \
            or parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InputError(f"{source}: {address!r} is not a scheduler address; {fix}")
    return text.rstrip("/")


def address_in_file(path: str) -> str:
    """The scheduler address stored in a file written by ``dask scheduler --scheduler-file``.

    Raises:
        InputError: The file is missing, unreadable, or not such a file.
    """
    fix = "give the file that 'dask scheduler --scheduler-file FILE' writes"
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--scheduler-file: {path} does not exist; start the scheduler "
                         f"first and {fix}")
    try:
        doc = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or "not JSON"
        raise InputError(f"--scheduler-file: {path} cannot be read ({reason}); {fix}") from None
    address = doc.get("address") if isinstance(doc, dict) else None
    if not isinstance(address, str) or not address:
        raise InputError(f"--scheduler-file: {path} holds no scheduler address; {fix}")
    return address


def _readable(flag: str, value: str) -> Path:
    """The PEM file given with ``flag``, which must be a readable file."""
    p = Path(value)
    if not p.is_file() or not os.access(p, os.R_OK):
        raise InputError(f"{flag}: {value} is not a readable file; give the PEM file "
                         f"(the same kind 'dask scheduler {flag}' takes)")
    return p


def _tls_configured() -> bool:
    """Whether dask's configuration names a CA file (TLS set up outside the command line)."""
    import dask

    return bool(dask.config.get("distributed.comm.tls.ca-file", None))


def scheduler_link(address: str | None, scheduler_file: str | None,
                   tls_ca_file: str | None = None, tls_cert: str | None = None,
                   tls_key: str | None = None) -> SchedulerLink | None:
    """The checked link to an existing scheduler, or ``None`` for a local cluster.

    Args:
        address: ``--scheduler`` (or ``None``).
        scheduler_file: ``--scheduler-file`` (or ``None``); at most one of the two.
        tls_ca_file: ``--tls-ca-file``.
        tls_cert: ``--tls-cert``.
        tls_key: ``--tls-key``.

    Raises:
        InputError: A bad address or scheduler file, a missing or unreadable TLS file, TLS
            files with a ``tcp://`` address or without a scheduler, or a ``tls://`` address
            without credentials (module docstring).
    """
    given = {flag: value for flag, value in zip(TLS_FLAGS, (tls_ca_file, tls_cert, tls_key),
                                                strict=True) if value is not None}
    if address is None and scheduler_file is None:
        if given:
            flag, value = next(iter(given.items()))
            raise InputError(f"{flag}: {value} given without --scheduler or --scheduler-file; "
                             "TLS is for an existing scheduler (the local cluster listens on "
                             "loopback only), so drop it or add --scheduler tls://HOST:PORT")
        return None
    if scheduler_file is not None:
        source = f"--scheduler-file {scheduler_file}"
        address = address_in_file(scheduler_file)
    else:
        source = "--scheduler"
    assert address is not None
    address = checked_address(address, source)
    files = {flag: _readable(flag, value) for flag, value in given.items()}
    if files and not address.startswith("tls://"):
        flag, path = next(iter(files.items()))
        raise InputError(f"{flag}: {path} given, but {source} names {address}, which is "
                         "unencrypted; give the scheduler's tls:// address (start it with "
                         "--protocol tls and its own --tls-* files) or drop the --tls-* options")
    if files:
        for flag in TLS_FLAGS[:2]:
            if flag not in files:
                raise InputError(f"{flag}: missing; a TLS scheduler needs both --tls-ca-file "
                                 "(the CA that signed its certificates) and --tls-cert (this "
                                 "machine's certificate, --tls-key for its key unless in it)")
    elif address.startswith("tls://") and not _tls_configured():
        raise InputError(f"{source}: {address} is a TLS scheduler but no certificates were "
                         "given; add --tls-ca-file, --tls-cert (and --tls-key unless the key "
                         "is in the certificate file)")
    return SchedulerLink(address=address, source=source,
                         tls_ca_file=files.get("--tls-ca-file"),
                         tls_cert_file=files.get("--tls-cert"),
                         tls_key_file=files.get("--tls-key"))
