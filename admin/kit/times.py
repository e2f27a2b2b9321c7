"""Times in the admin: stored as naive UTC, shown in lists and detail pages, typed in forms and
filters, in the shop's time zone (``SHOP_TIMEZONE``, the one the storefront shows). Exports
give them to the second in the same zone, with its offset and name, so a spreadsheet opened
anywhere reads the shop's own clock and says which it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask_admin.contrib.sqla.filters import FilterConverter
from flask_admin.contrib.sqla.form import AdminModelConverter
from flask_admin.form import DateTimeField
from flask_admin.model.filters import BaseDateTimeBetweenFilter, BaseDateTimeFilter
from flask_admin.model.form import converts
from flask_babel import to_user_timezone, to_utc

from shop.infra.clock import utcnow
from shop.web.templating import local_datetime

# Days ----------------------------------------------------------------------------------------


def local_today(now: datetime | None = None) -> date:
    """Today's date on the shop's clock (``now``: a stored, naive UTC time)."""
    return to_user_timezone(now or utcnow()).date()


def days_range(first: date, last: date) -> tuple[datetime, datetime]:
    """The shop's days ``first`` to ``last`` (both included), from the first's midnight to the
    midnight after the last, on the shop's clock, as stored (naive UTC) times."""
    return to_utc(datetime.combine(first, time())), to_utc(
        datetime.combine(last + timedelta(days=1), time())
    )


# Times ---------------------------------------------------------------------------------------

#: how the admin shows a time (a Babel pattern), in the shop's time zone
ADMIN_TIME = "yyyy-MM-dd HH:mm"


def admin_time(moment: datetime | None) -> str:
    """A stored (naive UTC) time in the shop's time zone, to the minute (the ``admin_time``
    template filter)."""
    return local_datetime(moment, ADMIN_TIME)


def to_the_minute(view, value, name) -> str:
    return admin_time(value)


def local_to_the_second(view, value, name) -> str:
    """An exported time: the shop's zone, to the second, with the zone's offset and name
    ("2026-12-06 21:05:03 +08:00 Asia/Shanghai")."""
    local = to_user_timezone(value.replace(tzinfo=UTC))
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} {offset[:3]}:{offset[3:]} {local.tzinfo}"


class LocalDateTimeField(DateTimeField):
    """A stored (naive UTC) time, shown and typed in the shop's time zone."""

    def process_data(self, value) -> None:
        super().process_data(to_user_timezone(value).replace(tzinfo=None) if value else value)

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = to_utc(self.data)


class LocalTimeModelConverter(AdminModelConverter):
    @converts("DateTime")
    def convert_datetime(self, field_args, **extra):
        return LocalDateTimeField(**field_args)


def _typed_in_shop_zone(filter_class):
    """A datetime filter whose typed times are the shop's, compared with the stored UTC."""
    if not issubclass(filter_class, BaseDateTimeFilter | BaseDateTimeBetweenFilter):
        return filter_class

    class LocalTimeFilter(filter_class):
        def clean(self, value):
            cleaned = super().clean(value)
            if isinstance(cleaned, list):
                return [to_utc(moment) for moment in cleaned]
            return to_utc(cleaned)

    LocalTimeFilter.__name__ = filter_class.__name__
    return LocalTimeFilter


class LocalTimeFilterConverter(FilterConverter):
    datetime_filters = tuple(_typed_in_shop_zone(f) for f in FilterConverter.datetime_filters)
