"""Workbench and join forms. Flask-WTF forms: each carries the shop's CSRF token."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from distribution.models import PICKABLE_CHANNELS, Channel


class GuideLoginForm(FlaskForm):
    email = StringField(_l("E-mail"), validators=[DataRequired(), Length(max=255)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class LogoutForm(FlaskForm):
    pass


class MakeLinkForm(FlaskForm):
    """One tap: a target ("home" or "product:<id>") and a channel."""

    target = HiddenField(validators=[DataRequired(), Length(max=40)])
    channel = SelectField(
        _l("Where will you share it?"),
        choices=[SelectChoice(*choice) for choice in Channel.choices(PICKABLE_CHANNELS)],
        default=Channel.WECHAT_GROUP,
    )
    next = HiddenField(validators=[Optional(), Length(max=500)])


class JoinForm(FlaskForm):
    """Checked by ``promoters.apply_as_promoter``, which words every refusal."""

    phone = StringField(_l("Mobile number"))
    name = StringField(_l("Name"))
    invite = StringField(_l("Invite code (optional)"))


class PickupCodeForm(FlaskForm):
    code = StringField(_l("Code the customer shows"), validators=[DataRequired(), Length(max=32)])


class HandOverForm(FlaskForm):
    order_id = HiddenField(validators=[DataRequired(), Length(max=10)])
    code = HiddenField(validators=[DataRequired(), Length(max=32)])
