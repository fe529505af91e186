"""Recorded facts are checked against their own certificates before they are judged.

A facts file carries every certificate's PEM beside what the prober read from it (dates,
key, names, signer). Those fields decide findings, so a file whose fields say something
else than its PEM (an expiry moved later by hand, a key type changed) is refused, not
believed: the PEM is the evidence, the fields are a reading of it.
"""

from __future__ import annotations

from dataclasses import fields

from cryptography import x509

from auditor.collect.certs import analyse
from auditor.common.errors import InputError
from auditor.model.certificate import CertificateFacts
from auditor.model.facts import Facts

#: Fields a reading of an older version may lack (None or empty there); every other field
#: of :class:`CertificateFacts` must be exactly what :func:`analyse` reads from the PEM.
_MAY_BE_ABSENT = {"key_usage_allows_signing", "parse_warnings", "critical_extensions"}


def check_recorded_certificates(facts: Facts, where: str) -> None:
    """Refuse (:class:`InputError`, naming the file and field) facts whose certificate
    fields are not what their PEM says, or whose PEM is no certificate. The loader has
    already required each certificate's recorded fingerprint to be the key it is filed
    under (``model.facts.check_meaning``), so comparing that field with the PEM's covers the
    key too."""
    for key, cert in facts.certificates.items():
        field = f"certificates.{key[:16]}"
        try:
            read = analyse(x509.load_pem_x509_certificate(cert.pem.encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise InputError("the recorded PEM is no certificate", path=where,
                             field=f"{field}.pem", expected="the PEM the prober read") from None
        for name in (f.name for f in fields(CertificateFacts)):
            recorded, actual = getattr(cert, name), getattr(read, name)
            if name in _MAY_BE_ABSENT and recorded in (None, ()):
                continue
            if recorded != actual:
                raise InputError(
                    f"says {_short(recorded)}, but its PEM says {_short(actual)}",
                    path=where, field=f"{field}.{name}",
                    expected="what the certificate itself says (a facts file is a reading "
                             "of the certificates it carries, not a place to edit them)")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
