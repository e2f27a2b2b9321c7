import pytest

from tests.support.members import SENT


@pytest.fixture
def app_config(app_config):
    """Sign-in codes go to a list the tests read (``helpers.sign_in_by_code``)."""
    SENT.clear()
    return {**app_config, "SMS_SENDER": "tests.support.members.CapturingSender"}
