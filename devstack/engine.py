"""A container engine and the Prometheus stack images, wherever the tests run.

Two paths, chosen once per process:

* A Docker-compatible engine already answers (``DOCKER_HOST`` or the default
  socket) and ``WHOOPER_IMAGES`` is not ``debian``: the official ``prom/*``
  images are used, at the versions Debian 12 ships.
* Otherwise (this project's CI machines: no Docker daemon, no registry):
  podman is installed from Debian if missing, its API service is started on a
  private socket, and the three images are built from Debian's packages by
  importing an unpacked root filesystem. See ``../shared/recipes/container-engine.md``.

Everything is idempotent and cached under ``WHOOPER_CACHE`` (default
``~/.cache/whooper-devstack``): a second run finds the images and reuses them.
The podman service this module starts is stopped by PID at interpreter exit or
by :meth:`Engine.stop`.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import signal
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("devstack.engine")

PROMETHEUS_VERSION = "2.42.0"
ALERTMANAGER_VERSION = "0.25.0"
PUSHGATEWAY_VERSION = "1.5.1"


@dataclass(frozen=True)
class Component:
    """How to run one part of the stack from either kind of image."""

    name: str
    debian_package: str
    version: str
    official_image: str
    official_binary: str
    debian_binary: str
    data_dirs: tuple[str, ...]

    @property
    def debian_image(self) -> str:
        return f"localhost/whooper-devstack/{self.name}:v{self.version}"


PROMETHEUS = Component(
    name="prometheus",
    debian_package="prometheus",
    version=PROMETHEUS_VERSION,
    official_image=f"prom/prometheus:v{PROMETHEUS_VERSION}",
    official_binary="/bin/prometheus",
    debian_binary="/usr/bin/prometheus",
    data_dirs=("prometheus", "etc/whooper", "tmp"),
)
ALERTMANAGER = Component(
    name="alertmanager",
    debian_package="prometheus-alertmanager",
    version=ALERTMANAGER_VERSION,
    official_image=f"prom/alertmanager:v{ALERTMANAGER_VERSION}",
    official_binary="/bin/alertmanager",
    debian_binary="/usr/bin/prometheus-alertmanager",
    data_dirs=("alertmanager", "etc/whooper", "tmp"),
)
PUSHGATEWAY = Component(
    name="pushgateway",
    debian_package="prometheus-pushgateway",
    version=PUSHGATEWAY_VERSION,
    official_image=f"prom/pushgateway:v{PUSHGATEWAY_VERSION}",
    official_binary="/bin/pushgateway",
    debian_binary="/usr/bin/prometheus-pushgateway",
    data_dirs=("tmp",),
)
COMPONENTS = (PROMETHEUS, ALERTMANAGER, PUSHGATEWAY)

CONTAINERS_CONF = """\
# Written by devstack: crun fails on a hybrid cgroup layout, runc works; the
# machine may lack CAP_SYS_RESOURCE, so podman's default ulimits must be empty.
[containers]
default_ulimits = []
[engine]
runtime = "runc"
"""


class EngineError(RuntimeError):
    """The container engine could not be brought up; the message says why."""


def cache_dir() -> Path:
    root = Path(os.environ.get("WHOOPER_CACHE", Path.home() / ".cache" / "whooper-devstack"))
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def _file_lock(name: str) -> Iterator[None]:
    """Serialise installs and image builds between concurrent test runs."""
    path = cache_dir() / f"{name}.lock"
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    log.debug("running %s", " ".join(cmd))
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if result.returncode != 0:
        raise EngineError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
    return result  # type: ignore[no-any-return]


def _apt_get(args: list[str], cwd: Path | None = None) -> None:
    """apt-get with one ``apt-get update`` retry when the package lists are stale or empty."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        _run(["apt-get", *args], cwd=cwd, env=env)
    except EngineError:
        _run(["apt-get", "update", "-qq"], env=env)
        _run(["apt-get", *args], cwd=cwd, env=env)


def ensure_debian_packages(packages: list[str]) -> None:
    """Install Debian packages that are not installed yet (needs root)."""
    missing = [p for p in packages if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if not missing:
        return
    if os.geteuid() != 0:
        raise EngineError(f"Debian packages {missing} are missing and this is not root: install them with apt-get")
    with _file_lock("apt"):
        log.info("installing Debian packages %s", missing)
        _apt_get(["install", "-y", "-qq", "--no-install-recommends", *missing])


def debian_rootfs(package: str) -> Path:
    """Download (not install) a Debian package and unpack it; cached."""
    root = cache_dir() / "rootfs" / package
    done = root / ".unpacked"
    if done.exists():
        return root
    with _file_lock(f"rootfs-{package}"):
        if done.exists():
            return root
        debs = cache_dir() / "debs"
        debs.mkdir(exist_ok=True)
        if not list(debs.glob(f"{package}_*.deb")):
            _apt_get(["download", "-qq", package], cwd=debs)
        (deb,) = debs.glob(f"{package}_*.deb")
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        _run(["dpkg-deb", "-x", str(deb), str(root)])
        done.touch()
    return root


def debian_tool(package: str, binary: str) -> Path:
    """A command-line tool (promtool, amtool) from a Debian package, without installing it."""
    path = debian_rootfs(package) / "usr" / "bin" / binary
    if not path.exists():
        raise EngineError(f"{binary} not found in Debian package {package}")
    return path


def _copy_shared_libraries(rootfs: Path, binary: Path) -> None:
    """Put the loader and libraries a binary links against into the image at the same paths."""
    result = subprocess.run(["ldd", str(binary)], capture_output=True, text=True, check=False)
    for line in result.stdout.splitlines():
        parts = line.split()
        candidates = [p for p in parts if p.startswith("/")]
        for lib in candidates:
            source = Path(lib)
            target = rootfs / lib.lstrip("/")
            if source.exists() and not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source.resolve(), target)


def _build_debian_image(podman: str, component: Component, env: dict[str, str]) -> None:
    unpacked = debian_rootfs(component.debian_package)
    staging = cache_dir() / "images" / component.name
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(unpacked, staging, symlinks=True)
    _copy_shared_libraries(staging, staging / component.debian_binary.lstrip("/"))
    for directory in component.data_dirs:
        path = staging / directory
        path.mkdir(parents=True, exist_ok=True)
        path.chmod(0o1777)
    # Minimal /etc so Go's user and host lookups do not fail inside the container.
    (staging / "etc").mkdir(exist_ok=True)
    (staging / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n")
    (staging / "etc" / "group").write_text("root:x:0:\nnogroup:x:65534:\n")
    archive = cache_dir() / "images" / f"{component.name}.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(staging, arcname=".")
    _run([podman, "import", str(archive), component.debian_image], env=env)
    archive.unlink()
    shutil.rmtree(staging)


@dataclass
class Engine:
    """A reachable engine and the image to use for each component."""

    docker_host: str | None
    kind: str  # "docker" (official images) or "podman" (Debian-built images)
    service: subprocess.Popen[bytes] | None = None

    def image(self, component: Component) -> str:
        return component.official_image if self.kind == "docker" else component.debian_image

    def binary(self, component: Component) -> str:
        return component.official_binary if self.kind == "docker" else component.debian_binary

    def stop(self) -> None:
        """Stop the podman service this process started (by its PID); containers were stopped by their owners."""
        if self.service is None:
            return
        process, self.service = self.service, None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _docker_answers(base_url: str | None) -> bool:
    import docker

    base_url = base_url or "unix:///var/run/docker.sock"
    if base_url.startswith("unix://") and not Path(base_url.removeprefix("unix://")).is_socket():
        return False
    # A fixed API version: "auto" asks the engine inside the constructor, which leaks a socket when that fails.
    client = docker.DockerClient(base_url=base_url, version="1.41", timeout=3)
    try:
        return bool(client.ping())
    except Exception:  # an engine that does not answer is no engine
        return False
    finally:
        client.close()


def _testcontainers_env(docker_host: str | None) -> None:
    """Settings testcontainers reads from the environment (some at import time)."""
    if docker_host:
        os.environ["DOCKER_HOST"] = docker_host
    if "CONTAINERS_CONF" not in os.environ and (cache_dir() / "containers.conf").exists():
        os.environ["CONTAINERS_CONF"] = str(cache_dir() / "containers.conf")
    os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
    # /.dockerenv exists on these machines, which otherwise sends testcontainers
    # looking for a gateway IP (KeyError 'HostConfig' under podman).
    os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")


def _start_podman_service(podman: str, env: dict[str, str]) -> tuple[str, subprocess.Popen[bytes]]:
    sock = Path(f"/run/whooper-devstack-podman-{os.getpid()}.sock")
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    log_path = cache_dir() / "podman-service.log"
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [podman, "system", "service", "--time=0", f"unix://{sock}"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() ends it and nothing else
        )
    url = f"unix://{sock}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineError(f"podman system service exited with {process.returncode}; see {log_path}")
        if sock.exists() and _docker_answers(url):
            return url, process
        time.sleep(0.2)
    process.kill()
    process.wait()
    raise EngineError(f"podman system service did not answer within 30 s; see {log_path}")


_ENGINE: Engine | None = None


def ensure_engine() -> Engine:
    """Bring up an engine and the three images once per process; idempotent."""
    global _ENGINE  # one engine per process, shared by every fixture that needs it
    if _ENGINE is not None:
        # Re-applied on every call: a test that restores os.environ must not cut testcontainers off the engine.
        _testcontainers_env(_ENGINE.docker_host)
        return _ENGINE
    wanted = os.environ.get("WHOOPER_IMAGES", "auto")
    if wanted != "debian" and _docker_answers(os.environ.get("DOCKER_HOST")):
        _testcontainers_env(os.environ.get("DOCKER_HOST"))
        _ENGINE = Engine(docker_host=os.environ.get("DOCKER_HOST"), kind="docker")
        return _ENGINE
    if wanted == "official":
        raise EngineError("WHOOPER_IMAGES=official but no Docker engine answers")

    ensure_debian_packages(["podman", "runc"])
    podman = shutil.which("podman") or "/usr/bin/podman"
    conf = cache_dir() / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    env = {**os.environ, "CONTAINERS_CONF": str(conf)}
    os.environ["CONTAINERS_CONF"] = str(conf)
    with _file_lock("images"):
        for component in COMPONENTS:
            exists = subprocess.run([podman, "image", "exists", component.debian_image], env=env, check=False)
            if exists.returncode != 0:
                log.info("building image %s from Debian package %s", component.debian_image, component.debian_package)
                _build_debian_image(podman, component, env)
    url, service = _start_podman_service(podman, env)
    _testcontainers_env(url)
    _ENGINE = Engine(docker_host=url, kind="podman", service=service)
    atexit.register(_ENGINE.stop)
    return _ENGINE
