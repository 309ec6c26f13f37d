"""The GPU path without a GPU: preloading the cuda extra's libraries, the driver probe, doctor's CUDA line and the
runtime switch (`vcam-emoji setup-runtime`), with fakes for onnxruntime, the driver and pip.

What stays unverified here (no NVIDIA GPU or Windows on this machine): that a CUDA session really starts with only
the driver installed, and DirectML. On Linux the real libraries of the cuda extra were preloaded by hand and the CUDA
provider then failed only on the missing driver library (libcuda.so.1), see README's GPU section.
"""

from __future__ import annotations

import argparse
import ctypes
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from vcam_emoji import gpu, setup_runtime
from vcam_emoji.doctor import runtime_checks
from vcam_emoji.errors import EmojiCamError

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
LINUX = {"platform_system": "Linux", "platform_machine": "x86_64", "sys_platform": "linux", "os_name": "posix",
         "python_version": "3.11", "python_full_version": "3.11.7", "implementation_name": "cpython",
         "platform_python_implementation": "CPython", "platform_release": "", "platform_version": "",
         "implementation_version": "3.11.7"}
MAC = {**LINUX, "platform_system": "Darwin", "platform_machine": "arm64", "sys_platform": "darwin"}
WINDOWS = {**LINUX, "platform_system": "Windows", "platform_machine": "AMD64", "sys_platform": "win32", "os_name": "nt"}


class FakeOrt:
    """The few onnxruntime functions gpu.py calls; preload_dlls prints like the real one does."""

    __version__ = "1.31.1"
    cuda_version = "13.0"

    def __init__(self, providers=(CUDA, CPU), has_preload=True, prints=()):
        self.providers, self.calls, self._prints = list(providers), [], prints
        if has_preload:
            self.preload_dlls = self._preload

    def get_available_providers(self):
        return self.providers

    def _preload(self, **kw):
        self.calls.append(kw)
        for line in self._prints:
            print(line)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.setattr(gpu, "_preloaded", {})


WHEELS = {"nvidia-cublas": "13.10.0.20", "nvidia-cudnn-cu13": "9.28.1.4"}


def preload(ort, system="Linux", libraries=WHEELS, driver=13000):
    return gpu.preload_cuda(ort, system=system, libraries=lambda: libraries, driver_version=lambda s: driver)


def test_preload_loads_the_cuda_extras_libraries_once_and_keeps_stdout_clean(capsys):
    ort = FakeOrt(prints=["Failed to load libcufft.so.12: missing"])
    assert preload(ort) == ["Failed to load libcufft.so.12: missing"]
    assert preload(ort) == ["Failed to load libcufft.so.12: missing"]  # once per process
    assert ort.calls == [{}]
    assert capsys.readouterr().out == ""  # `eval --json` and the status lines stay parseable


@pytest.mark.parametrize("why, ort, kw", [
    ("macOS has no CUDA", FakeOrt(), {"system": "Darwin"}),
    ("onnxruntime before 1.21", FakeOrt(has_preload=False), {}),
    ("a CPU build", FakeOrt(providers=(CPU,)), {}),
    ("no cuda extra: a system CUDA is found without help", FakeOrt(), {"libraries": {}}),
    ("no driver: CUDA cannot start", FakeOrt(), {"driver": None}),
])
def test_preload_does_nothing_where_it_cannot_help(why, ort, kw):
    assert preload(ort, **kw) == []
    assert ort.calls == [], why


def test_a_failing_preload_is_reported_not_raised():
    class Broken(FakeOrt):
        def _preload(self, **kw):
            raise RuntimeError("Invalid parameter of directory")

    assert preload(Broken()) == ["preload_dlls failed: Invalid parameter of directory"]


def test_create_session_preloads_before_a_cuda_session(monkeypatch):
    from conftest import REPO
    from vcam_emoji.onnx_session import create_session

    calls = []
    monkeypatch.setattr(gpu, "preload_cuda", lambda ort: calls.append(ort.__name__))
    model = REPO / "models" / "emocnn_fer2013.onnx"
    create_session(model, providers="cpu")
    assert calls == []
    import onnxruntime

    if CUDA not in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has no CUDA provider")
    _, used = create_session(model, providers="cuda")
    assert calls == ["onnxruntime"] and used  # falls back to the CPU without a GPU


class FakeDriver:
    def __init__(self, version=13000, status=0):
        self.version, self.status = version, status

    def cuDriverGetVersion(self, pointer):  # noqa: N802 - the CUDA driver API's name
        ctypes.cast(pointer, ctypes.POINTER(ctypes.c_int))[0] = self.version
        return self.status


def test_driver_version_from_the_driver_library():
    loaded = []
    assert gpu.cuda_driver_version("Linux", lambda name: loaded.append(name) or FakeDriver(12040)) == 12040
    assert gpu.cuda_driver_version("Windows", lambda name: loaded.append(name) or FakeDriver()) == 13000
    assert loaded == ["libcuda.so.1", "nvcuda.dll"]


def test_no_driver_or_a_failing_driver_is_none():
    def missing(name):
        raise OSError(f"{name}: cannot open shared object file")

    assert gpu.cuda_driver_version("Linux", missing) is None
    assert gpu.cuda_driver_version("Linux", lambda name: FakeDriver(status=100)) is None  # CUDA_ERROR_NO_DEVICE
    assert gpu.cuda_driver_version("Darwin", lambda name: FakeDriver()) is None


@pytest.mark.parametrize("driver, libraries, on_cuda, ready, fix", [
    (None, {}, False, False, 'install its driver (580 or newer for CUDA 13.0) and run pip install "vcam-emoji[cuda]"'),
    (12040, WHEELS, False, False, "the NVIDIA driver is too old for CUDA 13.0: update it to 580 or newer"),
    (13000, {}, False, False, 'pip install "vcam-emoji[cuda]" installs the CUDA 13.0 and cuDNN 9 libraries'),
    (13000, WHEELS, False, False, "needs a GPU of compute capability 7.5 or newer"),
    (13000, WHEELS, True, True, ""),
    (13020, {}, True, True, ""),  # a system-wide CUDA: it works, nothing to fix
])
def test_the_cuda_line_names_the_missing_part(driver, libraries, on_cuda, ready, fix):
    report = gpu.cuda_report(FakeOrt(), system="Linux", driver_version=driver, libraries=libraries,
                             session_on_cuda=on_cuda)
    assert report.ready is ready
    assert fix in report.fix and (fix or report.fix == "")
    assert report.text.startswith("CUDA: onnxruntime 1.31.1 built for CUDA 13.0; NVIDIA driver: ")


def test_no_cuda_line_for_a_build_without_cuda():
    assert gpu.cuda_report(FakeOrt(providers=(CPU,)), driver_version=13000, libraries={}) is None


def test_two_runtimes_installed_together_stop_every_use():
    [check] = runtime_checks({"onnxruntime": "1.31.1", "onnxruntime-gpu": "1.31.1"}, [CPU], None, system="Linux",
                             gpu_size_mb=0)
    assert not check.ok and check.blocks("live") and check.blocks("render")
    assert "overwrite each other" in check.text and "vcam-emoji setup-runtime" in check.fix


def test_a_cpu_only_machine_is_told_in_one_line_how_to_slim_the_install():
    cuda = gpu.cuda_report(FakeOrt(), system="Linux", driver_version=None, libraries={}, session_on_cuda=False)
    checks = runtime_checks({"onnxruntime-gpu": "1.31.1"}, [CPU], cuda, system="Linux", gpu_size_mb=354.2)
    slim = [c for c in checks if "slimmer" in c.text]
    assert [c.text for c in slim] == ["slimmer install for a CPU-only machine: `vcam-emoji setup-runtime cpu` swaps "
                                      "onnxruntime-gpu (354 MB here) for onnxruntime (about a fifth of that)"]
    assert slim[0].fix == "" and not slim[0].blocks("live")
    on_gpu = runtime_checks({"onnxruntime-gpu": "1.31.1"}, [CUDA, CPU], None, system="Linux", gpu_size_mb=354.2)
    assert not [c for c in on_gpu if "slimmer" in c.text]


def test_on_windows_directml_is_offered_for_other_gpus():
    cuda = gpu.cuda_report(FakeOrt(), system="Windows", driver_version=None, libraries={}, session_on_cuda=False)
    checks = runtime_checks({"onnxruntime-gpu": "1.31.1"}, [CPU], cuda, system="Windows", gpu_size_mb=238.6)
    assert any("`vcam-emoji setup-runtime directml`" in c.fix for c in checks)


# ------------------------------------------------------------------------------------------------ setup-runtime
def our_requires() -> list[str]:
    try:
        return metadata.requires("vcam-emoji") or []
    except metadata.PackageNotFoundError:
        pytest.skip("vcam-emoji is not installed as a distribution (pip install -e .)")


def in_extra(requirement: Requirement, extra: str) -> bool:
    marker = requirement.marker
    return marker is not None and marker.evaluate({**LINUX, "extra": extra}) and not marker.evaluate(
        {**LINUX, "extra": ""})


def cuda_pins() -> list[str]:
    return [line.split(";")[0].strip() for line in our_requires() if in_extra(Requirement(line), "cuda")]


def test_the_cuda_extra_pins_onnxruntime_gpu_and_the_libraries_its_own_extras_ask_for():
    pins = {Requirement(p).name: Requirement(p) for p in cuda_pins()}
    assert str(pins["onnxruntime-gpu"].specifier) == "==1.31.1" and pins["onnxruntime-gpu"].extras == {"cuda",
                                                                                                        "cudnn"}
    assert all(str(r.specifier).startswith("==") for r in pins.values())  # every library pinned
    try:
        theirs = [Requirement(line) for line in metadata.requires("onnxruntime-gpu") or []]
    except metadata.PackageNotFoundError:
        pytest.skip("onnxruntime-gpu is not installed here")
    if metadata.version("onnxruntime-gpu") != "1.31.1":
        pytest.skip("another onnxruntime-gpu is installed here")
    needed = [r for r in theirs if in_extra(r, "cuda") or in_extra(r, "cudnn")]
    assert len(needed) >= 5  # nvrtc, runtime, cufft, curand, cudnn for 1.31.1
    for requirement in needed:
        pinned = pins[requirement.name]  # every library onnxruntime-gpu's extras need is pinned by ours
        assert requirement.specifier.contains(str(pinned.specifier).lstrip("="))


def step_args(runtime, dry_run=False):
    return argparse.Namespace(runtime=runtime, dry_run=dry_run)


def test_switch_to_cpu_uninstalls_first_then_installs_the_same_version():
    steps = setup_runtime.plan("cpu", installed={"onnxruntime-gpu": "1.31.1"}, system="Linux", environment=LINUX,
                               requires=our_requires())
    assert steps == [["download", "--dest", "WHEELS", "onnxruntime==1.31.1"], ["uninstall", "-y", "onnxruntime-gpu"],
                     ["install", "--no-index", "--find-links", "WHEELS", "onnxruntime==1.31.1"]]


def test_switch_to_cuda_installs_the_cuda_extra_and_removes_every_runtime_even_the_target():
    installed = {"onnxruntime": "1.31.1", "onnxruntime-gpu": "1.31.1"}  # a mix left by an earlier pip install
    steps = setup_runtime.plan("cuda", installed=installed, system="Linux", environment=LINUX,
                               requires=our_requires())
    pins = [p.replace(" ", "") for p in cuda_pins()]
    assert steps[0] == ["download", "--dest", "WHEELS", *pins]
    assert steps[1] == ["uninstall", "-y", "onnxruntime", "onnxruntime-gpu"]
    assert steps[2] == ["install", "--no-index", "--find-links", "WHEELS", *pins]


@pytest.mark.parametrize("runtime, system, environment, message", [
    ("cuda", "Darwin", MAC, "CUDA wheels for Windows and Linux on x86_64 only"),
    ("directml", "Linux", LINUX, "DirectML exists on Windows only"),
])
def test_a_runtime_that_cannot_work_here_is_refused(runtime, system, environment, message):
    with pytest.raises(EmojiCamError, match=message):
        setup_runtime.plan(runtime, installed={}, system=system, environment=environment, requires=our_requires())


def test_directml_replaces_onnxruntime_gpu_on_windows():
    steps = setup_runtime.plan("directml", installed={"onnxruntime-gpu": "1.31.1"}, system="Windows",
                               environment=WINDOWS, requires=our_requires())
    assert [step[0] for step in steps] == ["download", "uninstall", "install"]
    assert steps[1] == ["uninstall", "-y", "onnxruntime-gpu"] and steps[2][-1] == setup_runtime.DIRECTML
    Requirement(setup_runtime.DIRECTML)  # a valid, pinned requirement
    assert setup_runtime.default_runtime(WINDOWS, our_requires()) == "onnxruntime-gpu"
    assert setup_runtime.default_runtime(MAC, our_requires()) == "onnxruntime"


def test_dry_run_prints_the_pip_commands_and_runs_nothing(capsys):
    ran = []
    code = setup_runtime.run(step_args("cpu", dry_run=True), system="Linux", installed={"onnxruntime-gpu": "1.31.1"},
                             requires=our_requires(), runner=ran.append)
    assert code == 0 and ran == []
    out = capsys.readouterr().out
    assert f'{sys.executable} -m pip download --dest "<a temporary folder>" onnxruntime==1.31.1\n' in out
    assert f"{sys.executable} -m pip uninstall -y onnxruntime-gpu\n" in out
    assert f'{sys.executable} -m pip install --no-index --find-links "<a temporary folder>" onnxruntime==1.31.1' in out


def test_run_calls_pip_in_order_and_says_what_pip_check_will_report(capsys):
    ran = []
    code = setup_runtime.run(step_args("cpu"), system="Linux", installed={"onnxruntime-gpu": "1.31.1"},
                             requires=our_requires(), runner=lambda cmd: ran.append(cmd[3:]) or 0, has_pip=True)
    assert code == 0
    wheels = ran[0][2]
    assert ran == [["download", "--dest", wheels, "onnxruntime==1.31.1"], ["uninstall", "-y", "onnxruntime-gpu"],
                   ["install", "--no-index", "--find-links", wheels, "onnxruntime==1.31.1"]]
    assert not Path(wheels).exists()  # the downloads are removed afterwards
    if setup_runtime.default_runtime(dict(setup_runtime.default_environment()), our_requires()) == "onnxruntime-gpu":
        assert "`pip check` reports it missing" in capsys.readouterr().err


def test_a_failed_download_changes_nothing():
    ran = []
    with pytest.raises(EmojiCamError, match="pip download failed .*nothing was changed.*setup-runtime cpu` again"):
        setup_runtime.run(step_args("cpu"), system="Linux", installed={"onnxruntime-gpu": "1.31.1"},
                          requires=our_requires(), runner=lambda cmd: ran.append(cmd[3:]) or 1, has_pip=True)
    assert [step[0] for step in ran] == ["download"]  # nothing uninstalled


def test_a_failed_uninstall_stops_with_what_to_do():
    ran = []
    with pytest.raises(EmojiCamError, match="pip uninstall failed .*quit emoji-cam.*setup-runtime cpu` again"):
        setup_runtime.run(step_args("cpu"), system="Linux", installed={"onnxruntime-gpu": "1.31.1"},
                          requires=our_requires(), runner=lambda cmd: ran.append(cmd[3:]) or (cmd[3] == "uninstall"),
                          has_pip=True)
    assert [step[0] for step in ran] == ["download", "uninstall"]  # nothing installed over a half-removed runtime


@pytest.mark.parametrize("restore_code, says", [(0, "the earlier runtime is back"),
                                                (1, r"putting the earlier one back failed too \(run `pip install "
                                                    r"onnxruntime-gpu==1.31.1`\)")])
def test_a_failed_install_puts_the_earlier_runtime_back(restore_code, says):
    ran = []

    def runner(cmd):
        ran.append(cmd[3:])
        if cmd[3] == "install":
            return 1 if "--no-index" in cmd else restore_code
        return 0

    with pytest.raises(EmojiCamError, match=f"pip install failed \\(exit 1\\); {says}; quit emoji-cam"):
        setup_runtime.run(step_args("cpu"), system="Linux", installed={"onnxruntime-gpu": "1.31.1"},
                          requires=our_requires(), runner=runner, has_pip=True)
    assert ran[-1] == ["install", "onnxruntime-gpu==1.31.1"]


def test_without_pip_it_gives_the_commands_to_run():
    with pytest.raises(EmojiCamError, match="(?s)this Python has no pip.*pip download --dest .*onnxruntime==1.31.1"):
        setup_runtime.run(step_args("cpu"), system="Linux", installed={"onnxruntime-gpu": "1.31.1"},
                          requires=our_requires(), runner=lambda cmd: 0, has_pip=False)


@pytest.mark.parametrize("providers, wanted, ok, fix", [
    ([CPU], "auto", True, ""),  # a CPU build (after `setup-runtime cpu`): nothing to fix
    ([CPU], "cuda", False, "this onnxruntime build has no cuda provider: `vcam-emoji setup-runtime cuda`"),
    ([CUDA, CPU], "cpu", True, ""),
])
def test_doctor_on_a_cpu_build_and_when_the_cpu_is_asked_for(monkeypatch, providers, wanted, ok, fix):
    import onnxruntime

    from vcam_emoji.config import Config
    from vcam_emoji.doctor import _provider_checks

    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: list(providers))
    checks = _provider_checks(Config().with_changes({"runtime.execution_provider": wanted}))
    [asked] = [c for c in checks if c.text.startswith(f"asked for {wanted!r}")]
    assert asked.ok is ok and fix in asked.fix and (fix or asked.fix == "")
