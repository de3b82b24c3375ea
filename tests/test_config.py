"""Configuration: precedence, context isolation, skipping, and errors that name their source."""

import asyncio
import threading

import numpy as np
import pytest

import arrayconv
from arrayconv import config, registry
from arrayconv.backends.direct import DirectBackend

X = np.ones((1, 2, 16))
W = np.ones((3, 2, 3))


class _Counting(DirectBackend):
    def __init__(self, name):
        self.name = name
        self.runs = 0

    def run(self, spec, x, w, b):
        self.runs += 1
        return super().run(spec, x, w, b)


# the `clean` fixture (no settings anywhere) is conftest.py's


@pytest.fixture
def two():
    backends = {name: _Counting(name) for name in ("first", "second")}
    for name, backend in backends.items():
        registry.register(name, backend)
    yield backends
    for name in backends:
        registry.unregister(name)


def _used(backends):
    return {name for name, backend in backends.items() if backend.runs}


def test_precedence_call_context_global_environment_file(clean, two, tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('backend = "first"\nthreads = 3\n')
    clean.setenv("ARRAYCONV_CONFIG", str(path))
    config.reload()
    assert config.describe()["backend"] == ("first", f"config file {path}")
    assert config.lookup("threads")[0] == 3
    from arrayconv._openmp import omp_max_threads

    assert arrayconv.threads.get() == min(3, omp_max_threads())  # within OpenMP's limit

    clean.setenv("ARRAYCONV_BACKEND", "second")
    config.reload()
    assert config.lookup("backend") == ("second", "environment variable ARRAYCONV_BACKEND")

    arrayconv.set_config(backend="first")
    assert config.lookup("backend") == ("first", "set_config")
    with arrayconv.config_context(backend="second"):
        assert config.lookup("backend") == ("second", "config_context")
        arrayconv.conv1d(X, W)
        assert _used(two) == {"second"}
        arrayconv.conv1d(X, W, backend="first")  # the call's own argument wins
        assert _used(two) == {"first", "second"}
        with arrayconv.config_context(backend=None):  # None leaves it as it is
            assert config.lookup("backend") == ("second", "config_context")
        with arrayconv.config_context(backend="auto"):  # "auto" lets the cost model choose
            assert config.lookup("backend") == (None, "config_context")
    assert config.lookup("backend") == ("first", "set_config")


def test_skip_removes_backends_from_automatic_choice(clean, two):
    builtin = arrayconv.backends.available()
    builtin = [name for name in builtin if name not in ("first", "second")]
    with arrayconv.config_context(skip=[*builtin, "second"]):
        arrayconv.conv1d(X, W)
    assert _used(two) == {"first"}
    with arrayconv.config_context(skip=[*builtin, "first", "second"]):
        with pytest.raises(ValueError, match="skipped by the skip setting"):
            arrayconv.conv1d(X, W)
    clean.setenv("ARRAYCONV_SKIP", "first, second")
    config.reload()
    assert config.lookup("skip") == (("first", "second"), "environment variable ARRAYCONV_SKIP")


def test_context_does_not_leak_into_other_threads(clean):
    seen = {}
    inside = threading.Event()
    release = threading.Event()

    def worker():
        with arrayconv.config_context(threads=1, backend="direct"):
            seen["worker"] = arrayconv.get_config()["threads"]
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(10)
    seen["main"] = arrayconv.get_config()["threads"]
    release.set()
    thread.join()
    assert seen == {"worker": 1, "main": None}


def test_context_is_local_to_asyncio_tasks(clean):
    async def task(count):
        with arrayconv.config_context(threads=count):
            await asyncio.sleep(0.01)
            return config.lookup("threads")[0]

    async def main():
        return await asyncio.gather(*(task(count) for count in (1, 2, 3)))

    assert asyncio.run(main()) == [1, 2, 3]


@pytest.mark.parametrize(
    "variable,value,text",
    [
        ("ARRAYCONV_NUM_THREADS", "0", "environment variable ARRAYCONV_NUM_THREADS"),
        ("ARRAYCONV_NUM_THREADS", "many", "environment variable ARRAYCONV_NUM_THREADS"),
        ("ARRAYCONV_CONFIG", "/nonexistent/arrayconv.toml", "ARRAYCONV_CONFIG names"),
        ("ARRAYCONV_FFT_ENGINE", "fftw", "got fft_engine='fftw' .from environment variable ARRAYCONV_FFT_ENGINE"),
    ],
)
def test_bad_environment_names_its_source(clean, variable, value, text):
    clean.setenv(variable, value)
    with pytest.raises((ValueError, TypeError), match=text):
        config.reload()


@pytest.mark.parametrize(
    "content,text",
    [
        ("threads = -1\n", "threads must be a positive integer"),
        ("colour = 'blue'\n", "unknown setting 'colour'"),
        ("skip = 'direct, fft'\n", None),  # a string is a comma-separated list: accepted
        ("[routing]\nx = 'fast'\n", "routing.x must be a positive number"),
        ("threads = \n", "not valid TOML"),
    ],
)
def test_bad_file_names_itself(clean, tmp_path, content, text):
    path = tmp_path / "bad.toml"
    path.write_text(content)
    clean.setenv("ARRAYCONV_CONFIG", str(path))
    if text is None:
        config.reload()
        assert config.lookup("skip") == (("direct", "fft"), f"config file {path}")
        return
    with pytest.raises((ValueError, TypeError)) as info:
        config.reload()
    assert text in str(info.value) and str(path) in str(info.value)


def test_user_config_file_is_found(clean, tmp_path):
    clean.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "arrayconv").mkdir()
    (tmp_path / "arrayconv" / "config.toml").write_text("threads = 2\n[routing]\nsome_constant = 1.5\n")
    config.reload()
    assert config.user_config_path() == str(tmp_path / "arrayconv" / "config.toml")
    assert arrayconv.get_config()["threads"] == 2
    assert arrayconv.get_config()["routing"] == {"some_constant": 1.5}


@pytest.mark.parametrize(
    "settings,error,text",
    [
        (dict(threads=0), ValueError, "(from set_config)"),
        (dict(threads=1.5), ValueError, "threads=1.5"),
        (dict(backend=3), TypeError, "backend=3"),
        (dict(skip=[1]), TypeError, "skip=[1]"),
        (dict(colour="blue"), ValueError, "unknown setting 'colour'"),
        (dict(fft_engine="fftw"), ValueError, "fft_engine must be 'auto', 'mkl' or 'scipy', got fft_engine='fftw'"),
        (dict(fft_engine=1), ValueError, "fft_engine=1"),
    ],
)
def test_bad_set_config(clean, settings, error, text):
    with pytest.raises(error) as info:
        arrayconv.set_config(**settings)
    assert text in str(info.value)
    with pytest.raises(error):
        with arrayconv.config_context(**settings):
            pass


def test_configured_unknown_backend_says_where_it_was_set(clean):
    clean.setenv("ARRAYCONV_BACKEND", "nope")
    config.reload()
    with pytest.raises(ValueError, match="environment variable ARRAYCONV_BACKEND") as info:
        arrayconv.conv1d(X, W)
    assert "'direct'" in str(info.value)


def test_threads_setting_drives_the_kernels(clean):
    arrayconv.threads.set_num_threads(1)
    assert config.lookup("threads") == (1, "set_config")
    with arrayconv.config_context(threads=2):
        assert config.lookup("threads") == (2, "config_context")
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="openmp"):
            assert arrayconv.threads.get() == 1  # OpenMP's limit caps the setting
    arrayconv.threads.set_num_threads(None)
    assert config.lookup("threads")[1] == "default"


def test_none_in_a_context_leaves_lower_layers(clean):
    clean.setenv("ARRAYCONV_NUM_THREADS", "1")
    config.reload()
    with arrayconv.config_context(threads=None, skip=None):
        assert arrayconv.threads.get() == 1
        assert config.lookup("threads") == (1, "environment variable ARRAYCONV_NUM_THREADS")


def test_routing_tables_are_copies(clean):
    arrayconv.set_config(routing={"a": 1.0})
    arrayconv.get_config()["routing"]["a"] = -1.0
    assert config.lookup("routing")[0] == {"a": 1.0}
    arrayconv.set_config(routing=None)
    config.lookup("routing")[0]["b"] = 2.0
    assert config.DEFAULTS["routing"] == ()


def _child_threads(queue):
    queue.put(config.lookup("threads"))


def test_fork_inside_a_context_gives_the_child_one_thread(clean):
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with arrayconv.config_context(threads=2):
        child = context.Process(target=_child_threads, args=(queue,))
        child.start()
        child.join(30)
    assert queue.get(timeout=5) == (1, "one thread after fork")


@pytest.mark.parametrize("layer", ["file", "environment", "set_config", "context"])
def test_fft_engine_setting_from_every_layer(clean, tmp_path, layer):
    from arrayconv.backends import fft

    x, w = np.ones((1, 1, 3000)), np.ones((1, 1, 300))
    spec = arrayconv.shape.normalize(x, w)
    if layer == "file":
        path = tmp_path / "engine.toml"
        path.write_text('fft_engine = "scipy"\n')
        clean.setenv("ARRAYCONV_CONFIG", str(path))
        config.reload()
    elif layer == "environment":
        clean.setenv("ARRAYCONV_FFT_ENGINE", "SciPy")
        config.reload()
    elif layer == "set_config":
        arrayconv.set_config(fft_engine="scipy")
    try:
        if layer == "context":
            with arrayconv.config_context(fft_engine="scipy"):
                assert fft.FFTBackend().plan(spec).engine == "scipy"
                y = arrayconv.conv1d(x, w, backend="fft")
        else:
            assert config.lookup("fft_engine")[0] == "scipy"
            assert fft.FFTBackend().plan(spec).engine == "scipy"
            y = arrayconv.conv1d(x, w, backend="fft")
    finally:
        arrayconv.set_config(fft_engine=None)
    np.testing.assert_allclose(y, arrayconv.conv1d(x, w, backend="direct"), rtol=1e-10)
    with arrayconv.config_context(fft_engine="auto"):
        assert config.lookup("fft_engine") == (None, "config_context")
