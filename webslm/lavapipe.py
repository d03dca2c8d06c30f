"""Mesa lavapipe (a CPU Vulkan driver) for WebGPU in Chromium on machines without a GPU.

Lavapipe runs our models 10-40x faster than Chromium's bundled SwiftShader. Debian 12's own Mesa (22.3) is refused by
Dawn, so we fetch Mesa 25 from bookworm-backports with `apt-get download` into a private apt state (no root, nothing
installed system-wide), unpack the .debs with `dpkg -x` into `$WEBSLM_HOME/lavapipe/bookworm-backports/`, and point Chromium's
Vulkan loader at that copy with VK_ICD_FILENAMES. Its remaining libraries (libLLVM-15, libxcb, ...) are the ones
Debian's `chromium` and `mesa-vulkan-drivers` packages already pull in.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from webslm.atomic import atomic_dir, write_json
from webslm.errors import WebslmError
from webslm.home import webslm_home

SUITE = "bookworm-backports"
MIRROR = "http://deb.debian.org/debian"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
PACKAGES = ("mesa-vulkan-drivers", "libdrm2", "libdrm-amdgpu1")
LIB_DIR = Path("usr/lib/x86_64-linux-gnu")
ICD_NAME = "webslm_lvp_icd.json"  # ours: Mesa's own names the driver by a relative path


def lavapipe_dir() -> Path:
    return webslm_home() / "lavapipe" / SUITE


def icd_path() -> Path | None:
    """The installed lavapipe ICD file, or None. `WEBSLM_LAVAPIPE_ICD` names one installed elsewhere."""
    explicit = os.environ.get("WEBSLM_LAVAPIPE_ICD")
    if explicit:
        if not Path(explicit).is_file():
            raise WebslmError(f"WEBSLM_LAVAPIPE_ICD={explicit}: no such file (a Vulkan ICD json for lavapipe)")
        return Path(explicit)
    icd = lavapipe_dir() / ICD_NAME
    return icd if icd.is_file() else None


def _apt(state: Path, *args: str, cwd: Path | None = None) -> None:
    options = [
        f"-o=Dir::Etc::SourceList={state / 'sources.list'}",
        "-o=Dir::Etc::SourceParts=/dev/null",
        f"-o=Dir::State::Lists={state / 'lists'}",
        f"-o=Dir::Cache={state / 'cache'}",
        "-o=Debug::NoLocking=1",
    ]
    if os.geteuid() == 0:
        options.append("-o=APT::Sandbox::User=root")  # apt's `_apt` user may not write into our cache directory
    done = subprocess.run(["apt-get", "-q", *options, *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise WebslmError(f"lavapipe: `apt-get {' '.join(args)}` failed ({done.returncode}): "
                          f"{(done.stderr or done.stdout).strip()[-800:]}")


def install_lavapipe(progress=print) -> Path:
    """Fetch and unpack Mesa lavapipe from bookworm-backports once; return the ICD file to give VK_ICD_FILENAMES."""
    existing = icd_path()
    if existing is not None:
        return existing
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise WebslmError(f"lavapipe: `{tool}` not found; the automatic install needs Debian 12 (bookworm). "
                              "Elsewhere install Mesa >= 24 lavapipe and set WEBSLM_LAVAPIPE_ICD to its lvp_icd json")
    if not Path(KEYRING).is_file():
        raise WebslmError(f"lavapipe: {KEYRING} missing (`apt-get install debian-archive-keyring`)")
    final = lavapipe_dir()
    progress(f"lavapipe: fetching {', '.join(PACKAGES)} from {SUITE} into {final}")
    with atomic_dir(final, ICD_NAME, force=True, what="lavapipe cache") as tmp:
        state = tmp / "apt"
        for sub in ("lists/partial", "cache/archives/partial", "debs"):
            (state / sub).mkdir(parents=True)
        (state / "sources.list").write_text(f"deb [signed-by={KEYRING}] {MIRROR} {SUITE} main\n")
        _apt(state, "update")
        _apt(state, "download", *[f"{name}/{SUITE}" for name in PACKAGES], cwd=state / "debs")
        for deb in sorted((state / "debs").glob("*.deb")):
            subprocess.run(["dpkg", "-x", str(deb), str(tmp / "root")], check=True)
        driver = tmp / "root" / LIB_DIR / "libvulkan_lvp.so"
        if not driver.is_file():
            raise WebslmError(f"lavapipe: {driver.name} not in the downloaded packages ({SUITE} changed?)")
        mesa_icd = json.loads((tmp / "root/usr/share/vulkan/icd.d/lvp_icd.json").read_text())
        shutil.rmtree(state)
        # Paths inside the ICD must be where the directory ends up, not the temporary name.
        mesa_icd["ICD"]["library_path"] = str(final / "root" / LIB_DIR / "libvulkan_lvp.so")
        write_json(tmp / ICD_NAME, mesa_icd)
    progress(f"lavapipe: ready ({final / ICD_NAME})")
    return final / ICD_NAME


def lavapipe_environment(icd: Path) -> dict[str, str]:
    """Environment for Chromium: its Vulkan loader sees only lavapipe, and the newer libdrm comes first."""
    icd_info = json.loads(Path(icd).read_text())
    lib_dir = str(Path(icd_info["ICD"]["library_path"]).parent)
    env = dict(os.environ)
    env["VK_ICD_FILENAMES"] = str(icd)
    env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (lib_dir, env.get("LD_LIBRARY_PATH", "")) if p)
    return env


if __name__ == "__main__":  # python -m webslm.lavapipe: install once (CI, a new machine)
    import sys

    try:
        print(install_lavapipe())
    except WebslmError as e:
        sys.exit(f"error: {e}")
