"""What the distribution programme's settings must satisfy, whoever changes them."""

from __future__ import annotations

from flask_babel import gettext as _

from distribution.models import DistributionSettings
from shop.errors import InvalidInput


def check_settings(row: DistributionSettings) -> None:
    """A binding stays valid at least as long as it is protected (0: valid for good). Raises
    ``InvalidInput``."""
    if row.validity_days and row.validity_days < row.protection_days:
        raise InvalidInput(_("The validity period cannot be shorter than the protection period."))
