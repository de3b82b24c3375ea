"""Shared test settings: hypothesis profiles and the backend parameter."""

import os

import pytest
from hypothesis import HealthCheck, settings

import hide_mkl

if os.environ.get(hide_mkl.VARIABLE):
    hide_mkl.install()

import arrayconv  # noqa: E402  (after the blocker, which must see every import)

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

CONFIG_VARIABLES = ("ARRAYCONV_BACKEND", "ARRAYCONV_SKIP", "ARRAYCONV_NUM_THREADS", "ARRAYCONV_CONFIG",
                    "ARRAYCONV_MEMORY_LIMIT", "ARRAYCONV_DETERMINISTIC", "ARRAYCONV_FFT_ENGINE",
                    "ARRAYCONV_OUTPUT_CACHE")


@pytest.fixture(autouse=True, scope="session")
def isolated_configuration(tmp_path_factory):
    """The suite ignores the developer's arrayconv environment variables and config file."""
    saved = {name: os.environ.pop(name, None) for name in (*CONFIG_VARIABLES, "XDG_CONFIG_HOME")}
    os.environ["XDG_CONFIG_HOME"] = str(tmp_path_factory.mktemp("xdg"))
    arrayconv.config.reload()
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    arrayconv.config.reload()


BACKENDS = arrayconv.backends.available()


@pytest.fixture(params=BACKENDS, scope="session")
def backend_name(request):
    """Each registered, loadable backend in turn."""
    return request.param


@pytest.fixture
def clean(monkeypatch, tmp_path):
    """No settings in code, environment or file; everything re-read on the way out."""
    config = arrayconv.config
    for variable in ("ARRAYCONV_BACKEND", "ARRAYCONV_SKIP", "ARRAYCONV_NUM_THREADS", "ARRAYCONV_CONFIG"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nowhere"))
    config.reload()
    yield monkeypatch
    for key in config.KEYS:
        config.set_config(**{key: None})
    monkeypatch.undo()
    config.reload()
