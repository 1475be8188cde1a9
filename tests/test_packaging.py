"""Packaging: one version, a LICENSE in the repository and the installed
metadata, README links that work on a package index, stripped extensions.

The checks marked "wheel" run when FASTGRAD_TEST_WHEEL=1 (.ci/run sets it
when it runs the suite against the wheel built by the README's command).
"""
import importlib.metadata
import os
import re
import struct
import sys
import sysconfig
from pathlib import Path

import pytest

import fastgrad
from fastgrad._version import __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(fastgrad.__file__).resolve().parent
WHEEL = os.environ.get("FASTGRAD_TEST_WHEEL") == "1"
needs_wheel = pytest.mark.skipif(not WHEEL, reason="set FASTGRAD_TEST_WHEEL=1 to check an "
                                                   "installed wheel (.ci/run does)")


def test_version_is_written_once():
    assert fastgrad.__version__ == __version__
    assert importlib.metadata.version("fastgrad") == __version__
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text
    assert 'version = {attr = "fastgrad._version.__version__"}' in text
    assert not re.search(r"(?m)^version\s*=\s*\"", text)
    assert not re.search(r"(?m)^__version__\s*=", (ROOT / "fastgrad" / "__init__.py").read_text())


def test_license_file_and_metadata():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, the fastgrad developers" in text
    assert "Neither the name of the copyright holder" in text
    meta = importlib.metadata.metadata("fastgrad")
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    assert "include README.md LICENSE" in (ROOT / "MANIFEST.in").read_text()


def test_installed_distribution_ships_the_license():
    files = importlib.metadata.files("fastgrad") or []
    licenses = [f for f in files if f.name == "LICENSE"]
    if not licenses:       # an editable install keeps it in the source tree
        pytest.skip("editable install: the license is in the source tree")
    assert "Copyright (c) 2026, the fastgrad developers" in licenses[0].read_text()


def test_readme_links_work_on_a_package_index():
    """A package index renders the README away from the repository:
    relative links and in-page anchors lead nowhere."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\(([^)\s]+)", text) + re.findall(r"(?m)^\[[^\]]+\]:\s*(\S+)", text)
    targets += re.findall(r"(?:src|href)=\"([^\"]+)\"", text)
    bad = [t for t in targets if not t.startswith(("https://", "http://", "mailto:"))]
    assert bad == []


def test_readme_wheel_command():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    i = lines.index("<!-- ci:wheel -->")
    command = next(line for line in lines[i + 1:] if line and not line.startswith("```"))
    assert command == "python tools/build_wheel.py"
    assert (ROOT / "tools" / "build_wheel.py").is_file()


def elf_sections(path):
    """Section names of an ELF file (64- or 32-bit, either byte order)."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF", path
    is64, e = data[4] == 2, "<" if data[5] == 1 else ">"
    if is64:
        shoff = struct.unpack_from(e + "Q", data, 0x28)[0]
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x3A)
    else:
        shoff = struct.unpack_from(e + "I", data, 0x20)[0]
        shentsize, shnum, shstrndx = struct.unpack_from(e + "HHH", data, 0x2E)

    def header(i):
        base = shoff + i * shentsize
        name = struct.unpack_from(e + "I", data, base)[0]
        offset = struct.unpack_from(e + ("Q" if is64 else "I"), data, base + (0x18 if is64 else 0x10))[0]
        return name, offset

    strtab = header(shstrndx)[1]
    names = []
    for i in range(shnum):
        start = strtab + header(i)[0]
        names.append(data[start:data.index(b"\0", start)].decode())
    return names


def _extensions():
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    return sorted(PACKAGE.rglob(f"*{suffix}"))  # the kernels live in subpackages


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ELF files on Linux")
@pytest.mark.skipif(bool(os.environ.get("FASTGRAD_DEBUG")), reason="a debug build keeps debug info")
def test_extensions_carry_no_debug_info():
    exts = _extensions()
    assert len(exts) >= 4
    for ext in exts:
        sections = elf_sections(ext)
        assert ".dynsym" in sections and ".text" in sections
        assert [s for s in sections if s.startswith((".debug", ".zdebug"))] == [], ext.name
        assert ".symtab" not in sections, ext.name          # linked with -s


def test_elf_reader_reads_section_names():
    """The reader above, on the interpreter's own ELF file."""
    if not sys.platform.startswith("linux"):
        pytest.skip("ELF files on Linux")
    sections = elf_sections(os.path.realpath(sys.executable))
    assert ".text" in sections and ".dynsym" in sections and ".shstrtab" in sections


@needs_wheel
def test_wheel_is_what_the_tests_import():
    site = {os.path.realpath(p) for p in (sysconfig.get_paths()["purelib"],
                                          sysconfig.get_paths()["platlib"])}
    assert os.path.realpath(PACKAGE.parent) in site, PACKAGE
    direct_url = importlib.metadata.distribution("fastgrad").read_text("direct_url.json") or ""
    assert '"editable": true' not in direct_url


@needs_wheel
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="auditwheel layout")
def test_wheel_bundles_a_renamed_libgomp_and_uses_it():
    from fastgrad import info

    libs = PACKAGE.parent / "fastgrad.libs"
    bundled = sorted(p.name for p in libs.iterdir())
    assert len(bundled) == 1 and re.fullmatch(r"libgomp-[0-9a-f]{8}.*\.so[.0-9]*", bundled[0])
    assert Path(info.openmp_runtime()).resolve() == (libs / bundled[0]).resolve()
