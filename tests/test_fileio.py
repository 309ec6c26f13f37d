"""The write rule (vcam_emoji/fileio.py): never over an input or an existing file unless asked, always via a temporary
file and a rename, temporary files removed on every exit the program sees."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from vcam_emoji import fileio
from vcam_emoji.errors import OutputError
from vcam_emoji.fileio import AtomicFile, OutputExists, atomic_output, check_output, numbered_path, write_atomic


def names(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_atomic_creates_the_file_with_the_usual_permissions(tmp_path):
    # Given an empty folder, when a file is written, then it is there, whole, with 0o666 less the umask
    old = os.umask(0o022)
    try:
        target = write_atomic(tmp_path / "a.txt", "héllo\r\n")
    finally:
        os.umask(old)
    assert target == tmp_path / "a.txt"
    assert target.read_bytes() == "héllo\r\n".encode()
    assert target.stat().st_mode & 0o777 == 0o644
    assert names(tmp_path) == ["a.txt"] and fileio.pending_temp_files() == []


def test_an_existing_file_is_never_replaced_unless_asked(tmp_path):
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"precious")
    with pytest.raises(OutputExists, match=r"keep.mp4: already exists; add --force to replace it"):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"precious" and names(tmp_path) == ["keep.mp4"]
    # replace=True (the user's --force) replaces it atomically and keeps its permissions
    os.chmod(target, 0o640)
    write_atomic(target, b"new", replace=True)
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o640
    assert names(tmp_path) == ["keep.mp4"]


def test_a_file_that_appears_while_writing_is_not_overwritten(tmp_path):
    target = tmp_path / "race.txt"
    pending = AtomicFile(target)
    target.write_bytes(b"someone else's")
    with pytest.raises(OutputExists):
        pending.commit()
    assert target.read_bytes() == b"someone else's" and names(tmp_path) == ["race.txt"]


def test_numbered_names_skip_taken_ones_even_at_the_last_moment(tmp_path):
    (tmp_path / "out.mp4").write_bytes(b"1")
    assert numbered_path(tmp_path / "out.mp4") == tmp_path / "out-2.mp4"
    assert numbered_path(tmp_path / "new.mp4") == tmp_path / "new.mp4"
    pending = AtomicFile(tmp_path / "out.mp4", numbered=True)
    assert pending.target == tmp_path / "out-2.mp4"
    (tmp_path / "out-2.mp4").write_bytes(b"2")  # taken meanwhile
    pending.tmp.write_bytes(b"mine")
    assert pending.commit() == tmp_path / "out-3.mp4"
    assert [(tmp_path / n).read_bytes() for n in ("out.mp4", "out-2.mp4", "out-3.mp4")] == [b"1", b"2", b"mine"]
    assert names(tmp_path) == ["out-2.mp4", "out-3.mp4", "out.mp4"]


@pytest.mark.parametrize("alias", ["same", "symlink", "hardlink", "dotted"])
def test_an_input_of_the_run_is_refused_by_any_name(tmp_path, alias):
    src = tmp_path / "v.mp4"
    src.write_bytes(b"video")
    target = {"same": lambda: src, "dotted": lambda: tmp_path / "." / "v.mp4",
              "symlink": lambda: (tmp_path / "link.mp4").symlink_to(src) or tmp_path / "link.mp4",
              "hardlink": lambda: os.link(src, tmp_path / "hard.mp4") or tmp_path / "hard.mp4"}[alias]()
    before = names(tmp_path)
    with pytest.raises(OutputError, match="this is also an input of this run; writing the timeline there would "
                       "destroy it"):
        write_atomic(target, "x", inputs=[src], what="timeline", replace=True)
    assert src.read_bytes() == b"video" and names(tmp_path) == before


def test_two_outputs_of_one_run_cannot_share_a_file(tmp_path):
    with pytest.raises(OutputError, match="two outputs of this run would be written to the same file"):
        check_output(tmp_path / "out.mp4", outputs=[None, tmp_path / "out.mp4"], what="timeline")


@pytest.mark.parametrize(
    "make,expected",
    [
        (lambda d: d, "is a folder; give the output a file name"),
        (lambda d: d / "missing" / "out.mp4", "the folder .*missing does not exist; create it first"),
        (lambda d: "/dev/null", "is not a regular file"),
    ],
    ids=["folder", "missing-folder", "device"],
)
def test_targets_that_cannot_be_files_are_refused_with_a_reason(tmp_path, make, expected):
    with pytest.raises(OutputError, match=expected):
        write_atomic(make(tmp_path), b"x", replace=True)
    assert names(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write in a read-only folder")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(OutputError, match="permissions"):
            write_atomic(folder / "a", b"x")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize("error", [OSError(28, "No space left on device"), KeyboardInterrupt(),
                                   fileio.Terminated(signal.SIGTERM)], ids=["error", "ctrl-c", "sigterm"])
def test_the_temporary_file_goes_on_every_exit_from_the_block(tmp_path, error):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_output(target, replace=True) as tmp:
            tmp.write_bytes(b"half")
            assert tmp.parent == tmp_path and tmp.name.startswith(".out.partial-") and tmp.suffix == ".bin"
            raise error
    assert target.read_bytes() == b"old" and names(tmp_path) == ["out.bin"]
    assert fileio.pending_temp_files() == []


def test_visible_temporary_names_for_live_recordings(tmp_path):
    pending = AtomicFile(tmp_path / "live.mp4", hidden=False)
    assert pending.tmp.name.startswith("live.partial-") and pending.tmp.suffix == ".mp4"
    pending.discard()
    pending.discard()
    with pytest.raises(OutputError, match="discarded"):
        pending.commit()
    assert names(tmp_path) == []


def test_without_hard_links_it_still_never_overwrites(tmp_path, monkeypatch):
    def no_link(src, dst):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(fileio.os, "link", no_link)
    assert write_atomic(tmp_path / "a", b"1").read_bytes() == b"1"
    with pytest.raises(OutputExists):
        write_atomic(tmp_path / "a", b"2")
    assert (tmp_path / "a").read_bytes() == b"1" and names(tmp_path) == ["a"]


CHILD = textwrap.dedent("""
    import sys, time
    from vcam_emoji import fileio
    fileio.raise_on_termination()
    pending = fileio.AtomicFile(sys.argv[1])
    pending.tmp.write_bytes(b"partial")
    if sys.argv[2] == "exit":
        sys.exit(3)                       # an exit path that runs no finally of ours: the atexit hook cleans up
    try:
        print(pending.tmp, flush=True)
        time.sleep(60)
    except fileio.Terminated as exc:
        pending.discard()
        sys.exit(128 + exc.signum)
""")


@pytest.mark.parametrize("how", ["exit", "SIGTERM", "SIGHUP"])
def test_a_process_leaves_no_temporary_file_on_exit_or_signal(tmp_path, how):
    target = tmp_path / "out.mp4"
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(target), how], stdout=subprocess.PIPE, text=True)
    if how != "exit":
        tmp = proc.stdout.readline().strip()
        assert tmp and os.path.exists(tmp)
        proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=30)
    assert proc.returncode == (3 if how == "exit" else 128 + getattr(signal, how))
    assert names(tmp_path) == []
