"""Run one command jailed: ``python -I -S jail.py SPEC_JSON -- COMMAND...`` (stdlib only; see ``isolation.py``).

With ``"namespaces": true`` the command runs in new user, mount, network, PID, IPC and UTS namespaces, as a
non-root user inside and outside them (nobody when started as root, so the process limit holds), with no
capabilities and no nested user namespaces; every mount is read-only except the sandbox; the home folder,
``/run`` and the temporary folders are empty private tmpfs (the paths the interpreter needs are bound back,
read-only), and ``/proc`` shows only the jail's processes. The resource
limits are set in both modes, then the command is exec'd. Without namespaces the command keeps the caller's
uid, but started as root it gets no capabilities (so it cannot read the non-dumpable recorder through ``/proc``).
Every process of the jail gets ``SIGKILL`` when its parent dies (the recorder, then each step of the jail), so
nothing outlives a killed recorder. A step that fails ends the jail with exit code 125 and one line
``jail: STEP: ERROR`` on stderr, before the command ever runs.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import signal
import sys
from typing import Any

JAIL_FAILED = 125

_CLONE_NEWNS, _CLONE_NEWUTS, _CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
_CLONE_NEWUSER, _CLONE_NEWPID, _CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 1, 2, 4, 8, 0x4000, 1 << 18
_AT_FDCWD, _AT_EMPTY_PATH, _AT_RECURSIVE = -100, 0x1000, 0x8000
_OPEN_TREE_CLONE, _MOVE_MOUNT_F_EMPTY_PATH, _MOUNT_ATTR_RDONLY = 1, 4, 1
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT, _SYS_MOUNT_SETATTR = 428, 429, 442  # the same number on every architecture
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_NO_NEW_PRIVS = 1, 24, 38
_NOBODY = 65534
_LIMITS = {"cpu_s": resource.RLIMIT_CPU, "address_space": resource.RLIMIT_AS, "file_size": resource.RLIMIT_FSIZE,
           "processes": resource.RLIMIT_NPROC}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


class JailError(Exception):
    """A step of the jail's setup failed (the message names it)."""


def _check(result: int, step: str) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise JailError(f"{step}: {errno.errorcode.get(code, code)} ({os.strerror(code)})")
    return result


def _call(step: str, name: str, *args: Any) -> int:
    return _check(getattr(_libc, name)(*args), step)


def _syscall(step: str, number: int, *args: Any) -> int:
    return _check(_libc.syscall(ctypes.c_long(number), *args), step)


def _mount(step: str, source: str | None, target: str, kind: str | None, flags: int, data: str | None = None) -> None:
    def c(text: str | None) -> bytes | None:
        return None if text is None else os.fsencode(text)

    _call(step, "mount", c(source), c(target), c(kind), ctypes.c_ulong(flags), c(data))


def _set_readonly(step: str, fd: int, path: str, readonly: bool, recursive: bool = True) -> None:
    attr = _MountAttr(_MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else _MOUNT_ATTR_RDONLY, 0, 0)
    flags = (_AT_RECURSIVE if recursive else 0) | (_AT_EMPTY_PATH if fd >= 0 else 0)
    _syscall(step, _SYS_MOUNT_SETATTR, ctypes.c_int(fd if fd >= 0 else _AT_FDCWD), os.fsencode(path),
             ctypes.c_uint(flags), ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)))


def _clone_tree(path: str) -> int:
    flags = _OPEN_TREE_CLONE | _AT_RECURSIVE | os.O_CLOEXEC
    return _syscall(f"open_tree {path}", _SYS_OPEN_TREE, ctypes.c_int(_AT_FDCWD), os.fsencode(path),
                    ctypes.c_uint(flags))


def _makedirs(path: str) -> None:
    try:
        os.makedirs(path, mode=0o755, exist_ok=True)
    except OSError as error:
        raise JailError(f"mkdir {path}: {error.strerror}") from None


def _attach(fd: int, target: str) -> None:
    _makedirs(target)
    _syscall(f"move_mount {target}", _SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(_AT_FDCWD),
             os.fsencode(target), ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH))
    os.close(fd)


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def _build_filesystem(spec: dict[str, Any], uid: int, gid: int) -> None:
    """Read-only everything; private tmpfs on the hidden folders; the sandbox (rw) and kept paths (ro) bound back."""
    sandbox: str = spec["sandbox"]
    hidden = [h for h in spec["hide"] if os.path.isdir(h) and h != "/"]
    kept = [k for k in spec["keep"] if os.path.exists(k) and any(_under(k, h) for h in hidden)]
    _mount("make mounts private", None, "/", None, _MS_REC | _MS_PRIVATE)
    sandbox_fd = _clone_tree(sandbox)
    kept_fds = [(path, _clone_tree(path)) for path in kept]
    try:  # new files need a mapped owner; the namespace's capabilities stay until the exec
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as error:
        raise JailError(f"setresuid {uid} in the namespace: {error.strerror}") from None
    _set_readonly("read-only /", -1, "/", True)
    for folder in hidden:  # parents first
        _makedirs(folder)
        _mount(f"tmpfs on {folder}", "tmpfs", folder, "tmpfs", _MS_NOSUID | _MS_NODEV,
               f"size={spec['tmpfs_size']},mode={'1777' if folder in spec['writable_hide'] else '755'}")
    for path, fd in kept_fds:
        _set_readonly(f"read-only {path}", fd, "", True)
        _attach(fd, path)
    _set_readonly(f"writable {sandbox}", sandbox_fd, "", False)
    _attach(sandbox_fd, sandbox)
    for folder in hidden:
        if folder not in spec["writable_hide"]:
            _set_readonly(f"read-only {folder}", -1, folder, True, recursive=False)


def _map_ids(pid: int, uid: int, gid: int) -> None:
    try:
        if os.geteuid() != 0:
            with open(f"/proc/{pid}/setgroups", "w") as file:
                file.write("deny")
        for name, outer in (("uid_map", uid), ("gid_map", gid)):
            with open(f"/proc/{pid}/{name}", "w") as file:
                file.write(f"{outer} {outer} 1\n")  # the same id inside: not root there, so no capabilities
    except OSError as error:
        raise JailError(f"writing /proc/{pid}/uid_map: {error.strerror}") from None


def _no_way_back() -> None:
    """No nested user namespace (whose capabilities could unmount the tmpfs covers) and no capability to keep:
    the bounding set is emptied; the exec as a non-root id clears the rest."""
    try:
        with open("/proc/sys/user/max_user_namespaces", "w") as file:
            file.write("0")
    except OSError as error:
        raise JailError(f"max_user_namespaces: {error.strerror}") from None
    for capability in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) < 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"dropping capability {capability}")


def _set_limits(limits: dict[str, int]) -> None:
    for name, value in limits.items():
        hard = value + 1 if name == "cpu_s" else value  # SIGXCPU first, then SIGKILL a second later
        try:
            resource.setrlimit(_LIMITS[name], (value, hard))
        except (ValueError, OSError) as error:
            raise JailError(f"setrlimit {name}={value}: {error}") from None


def _die_with(parent: int | None, as_signal: int = signal.SIGKILL) -> None:
    """``as_signal`` to this process when its parent dies (set again after every id change, which clears it); when
    ``parent`` is gone already, exit now (None: the parent lies outside this PID namespace and cannot be checked)."""
    _call("prctl PDEATHSIG", "prctl", _PR_SET_PDEATHSIG, int(as_signal), 0, 0, 0)
    if parent is not None and os.getppid() != parent:
        os._exit(JAIL_FAILED)


def _drop_capabilities() -> None:
    """Empty the bounding set: a root caller's command then execs with no capability (CAP_SYS_PTRACE included)."""
    for capability in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0) < 0 and ctypes.get_errno() != errno.EINVAL:
            _check(-1, f"dropping capability {capability}")


def _exit_code(status: int) -> int:
    return os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)


def _fail(error: BaseException) -> None:
    os.write(2, f"jail: {error}\n".encode(errors="replace"))
    os._exit(JAIL_FAILED)


def _exec(spec: dict[str, Any], command: list[str]) -> None:
    _set_limits(spec["limits"])
    _call("no_new_privs", "prctl", _PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    os.chdir(spec["sandbox"])
    try:
        os.execv(command[0], command)
    except OSError as error:
        raise JailError(f"exec {command[0]}: {error.strerror}") from None


def _jailed(spec: dict[str, Any], command: list[str], ids: tuple[int, int], ready: int, go: int, parent: int) -> None:
    """In the forked child: new namespaces, wait for the id maps, build the filesystem, become pid 1's parent."""
    _die_with(parent)
    flags = _CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWNET | _CLONE_NEWPID | _CLONE_NEWIPC | _CLONE_NEWUTS
    _call("unshare", "unshare", flags)
    os.write(ready, b"1")
    if os.read(go, 1) != b"1":
        os._exit(JAIL_FAILED)  # the parent failed and said why
    _build_filesystem(spec, *ids)
    _die_with(parent)  # setresuid cleared it
    init = os.fork()
    if init == 0:
        try:
            _die_with(None)
            _mount("mount /proc", "proc", "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
            _no_way_back()
            _exec(spec, command)
        except (JailError, OSError) as error:
            _fail(error)
    _forward_stop(init, signal.SIGKILL)  # pid 1 dies only once every process of its namespace is gone
    _, status = os.waitpid(init, 0)
    os._exit(_exit_code(status))


def _forward_stop(pid: int, as_signal: int) -> None:
    """On SIGTERM (the caller's timeout), pass it on; the jail's exit then means everything in it has exited."""
    signal.signal(signal.SIGTERM, lambda *_: os.kill(pid, as_signal))


def _chown_tree(root: str, uid: int, gid: int) -> None:
    """Give ``root`` and everything in it to ``uid``, walking without recursion (a tree can be nested deeply)."""
    try:
        os.chown(root, uid, gid, follow_symlinks=False)
        folders = [root]
        while folders:
            folder = folders.pop()
            with os.scandir(folder) as entries:
                for entry in entries:
                    if entry.stat(follow_symlinks=False).st_uid != uid:
                        os.chown(entry.path, uid, gid, follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        folders.append(entry.path)
    except OSError as error:
        raise JailError(f"chown {root} to {uid}: {error.strerror}") from None


def _initial_namespace() -> bool:
    """Whether this process is in the initial user namespace (all ids mapped), where nobody can be mapped."""
    with open("/proc/self/uid_map") as file:
        return file.read().split() == ["0", "0", "4294967295"]


def run(spec: dict[str, Any], command: list[str]) -> int:
    """Run ``command`` as the spec says; returns its exit code (128+N for signal N)."""
    if not spec["namespaces"]:
        return _supervised(spec, command)
    _die_with(spec["parent"])
    root = os.geteuid() == 0 and _initial_namespace()
    uid, gid = (_NOBODY, _NOBODY) if root else (os.geteuid(), os.getegid())
    if root:
        os.setgroups([])  # root's supplementary groups would stay with the child
        _chown_tree(spec["sandbox"], uid, gid)
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    top = os.getpid()
    child = os.fork()
    if child == 0:
        os.close(ready_r)
        os.close(go_w)
        try:
            _jailed(spec, command, (uid, gid), ready_w, go_r, top)
        except (JailError, OSError) as error:
            _fail(error)
    os.close(ready_w)
    os.close(go_r)
    if os.read(ready_r, 1) == b"1":
        try:
            _map_ids(child, uid, gid)
        except JailError:
            os.kill(child, signal.SIGKILL)
            raise
        os.write(go_w, b"1")
    _forward_stop(child, signal.SIGTERM)
    _, status = os.waitpid(child, 0)
    return _exit_code(status)


def _supervised(spec: dict[str, Any], command: list[str]) -> int:
    """Without namespaces: run the command as a child and wait; when the recorder dies (``SIGTERM``, the
    parent-death signal), kill the whole process group, so the command and what it started end with it."""
    signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
    _die_with(spec["parent"], signal.SIGTERM)
    supervisor = os.getpid()
    child = os.fork()
    if child == 0:
        try:
            _die_with(supervisor)
            if os.geteuid() == 0:
                _drop_capabilities()
            _exec(spec, command)
        except (JailError, OSError) as error:
            _fail(error)
    _, status = os.waitpid(child, 0)
    return _exit_code(status)


def main(argv: list[str]) -> int:
    """``jail.py SPEC_JSON -- COMMAND...``."""
    if len(argv) < 4 or argv[2] != "--":
        print("usage: jail.py SPEC_JSON -- COMMAND...", file=sys.stderr)
        return 2
    try:
        return run(json.loads(argv[1]), argv[3:])
    except (JailError, OSError) as error:
        print(f"jail: {error}", file=sys.stderr)
        return JAIL_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv))
