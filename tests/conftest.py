"""Shared test settings: hypothesis profiles and the backend parameter."""

import os

import pytest
from hypothesis import HealthCheck, settings

import arrayconv

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("ARRAYCONV_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=5000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

BACKENDS = arrayconv.backends.available()


@pytest.fixture(params=BACKENDS, scope="session")
def backend_name(request):
    """Each registered, loadable backend in turn."""
    return request.param
