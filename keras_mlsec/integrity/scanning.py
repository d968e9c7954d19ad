"""Static scanner for model files: finds what could run code when loaded.

Nothing is deserialized: archives are listed, `config.json` is parsed as plain
JSON and walked, HDF5 attributes are read as strings, pickles are disassembled
with `pickletools` (never unpickled).
"""

import io
import json
import pickletools
import stat
import zipfile

from keras_mlsec._core import files as _files
from keras_mlsec.integrity._config_scan import walk_config
from keras_mlsec.integrity.finding import SEVERITIES, Finding

_ZIP_MAGIC = b"PK\x03\x04"
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".dill")
_H5_SUFFIXES = (".h5", ".hdf5")
_EXPECTED_MEMBERS = ("config.json", "metadata.json", "model.weights.h5", "model.weights.npz")
MAX_CONFIG_BYTES = 64 * 2**20
MAX_MEMBER_RATIO = 200
MAX_UNCOMPRESSED_BYTES = 16 * 2**30


def scan_model(path, *, allow=(), max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES):
    """Statically scans a model file for code-execution and file-access risks.

    `.keras` archives are checked for unexpected members, path traversal and
    zip bombs, and their whole `config.json` is walked against an allowlist
    (modules `keras`, `keras_mlsec` and `allow`): Lambda, TFSMLayer and
    TorchModuleWrapper layers, functions from other modules, references to
    `enable_unsafe_deserialization`, and lookup-layer vocabularies given as
    file paths or URLs are reported. Legacy `.h5`/`.hdf5` files and pickles
    are always reported.

    Args:
        path: a model file (`.keras`, `.h5`, pickle) or a Keras model folder.
        allow: extra trusted module prefixes or registered-object packages
            (e.g. `("my_project.layers", "MyPackage")`).
        max_uncompressed_bytes: limit on the archive's total uncompressed size.

    Returns:
        A list of `Finding`, most severe first; empty when nothing was found.

    Raises:
        FileNotFoundError: `path` does not exist.

    Example:

    >>> for finding in scan_model("model.keras"):
    ...     print(finding)
    """
    path = _files.check_path(path, "path")
    allow = _check_allow(allow)
    if path.is_dir():
        findings = _scan_directory(path, allow)
    else:
        try:
            with open(path, "rb") as handle:
                findings = scan_fileobj(handle, path.name, allow=allow,
                                        max_uncompressed_bytes=max_uncompressed_bytes)
        except OSError as error:
            raise PermissionError(f"Expected `path` to be a readable file. Received: "
                                  f"path='{path}' ({error.strerror or error})") from None
    return sort_findings(findings)


def sort_findings(findings):
    """Most severe first, duplicates removed, order otherwise stable."""
    unique = list(dict.fromkeys(findings))
    return sorted(unique, key=lambda f: -SEVERITIES.index(f.severity))


def _check_allow(allow):
    if isinstance(allow, str):
        allow = (allow,)
    try:
        allow = tuple(allow)
    except TypeError:
        raise TypeError(f"Expected `allow` to be a sequence of module or package names. "
                        f"Received: allow={allow!r}") from None
    for entry in allow:
        if not isinstance(entry, str) or not entry or entry.startswith("."):
            raise ValueError(f"Expected `allow` to hold module prefixes like 'my_pkg.layers'. "
                             f"Received: allow={allow!r}")
    return allow


def scan_fileobj(handle, name, *, allow=(), max_uncompressed_bytes=MAX_UNCOMPRESSED_BYTES):
    """Scans an open binary file (or `io.BytesIO`); `name` gives its suffix."""
    head = handle.read(8)
    handle.seek(0)
    lower = name.lower()
    if head.startswith(_ZIP_MAGIC) and not lower.endswith(_PICKLE_SUFFIXES):
        return _scan_archive(handle, allow, max_uncompressed_bytes)
    if head.startswith(_HDF5_MAGIC) or lower.endswith(_H5_SUFFIXES):
        return _scan_hdf5(handle, allow)
    if lower.endswith(_PICKLE_SUFFIXES) or head[:1] == b"\x80":
        return _scan_pickle(handle, name)
    return [Finding("high", "unknown-format",
                    f"'{name}' is neither a .keras archive, HDF5 nor pickle; it cannot be checked",
                    name)]


def _bad_member_name(name):
    parts = name.replace("\\", "/").split("/")
    return (name.startswith(("/", "\\")) or ".." in parts or "\x00" in name
            or (len(name) > 1 and name[1] == ":"))


def _scan_archive(handle, allow, max_uncompressed_bytes):
    try:
        archive = zipfile.ZipFile(handle)
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        return [Finding("critical", "bad-archive", f"not a readable zip archive ({error})")]
    findings, seen, total = [], set(), 0
    for info in infos:
        name = info.filename
        if _bad_member_name(name):
            findings.append(Finding("critical", "path-traversal",
                                    f"archive member {name!r} points outside the archive "
                                    "(absolute path or '..')", name))
        if name in seen:
            findings.append(Finding("high", "duplicate-member",
                                    f"archive member {name!r} appears twice; readers disagree "
                                    "on which copy is used", name))
        seen.add(name)
        if stat.S_ISLNK(info.external_attr >> 16):
            findings.append(Finding("high", "symlink-member",
                                    f"archive member {name!r} is a symbolic link", name))
        if info.flag_bits & 0x1:
            findings.append(Finding("high", "encrypted-member",
                                    f"archive member {name!r} is encrypted", name))
        if name not in _EXPECTED_MEMBERS and not name.startswith("assets/"):
            findings.append(Finding("high", "unexpected-member",
                                    f"archive member {name!r} is not part of a Keras model "
                                    f"(expected {', '.join(_EXPECTED_MEMBERS[:3])}, "
                                    "assets/)", name))
        if (info.file_size > 2**20
                and info.file_size > MAX_MEMBER_RATIO * max(info.compress_size, 1)):
            findings.append(Finding("critical", "zip-bomb",
                                    f"archive member {name!r} expands {info.compress_size} bytes "
                                    f"to {info.file_size} (decompression bomb)", name))
        total += info.file_size
    if total > max_uncompressed_bytes:
        findings.append(Finding("high", "archive-too-large",
                                f"archive expands to {total} bytes, over the limit of "
                                f"{max_uncompressed_bytes} (max_uncompressed_bytes)"))
    if "config.json" not in seen:
        findings.append(Finding("high", "missing-config", "archive has no config.json"))
        return findings
    if not any(n in seen for n in ("model.weights.h5", "model.weights.npz")):
        findings.append(Finding("medium", "missing-weights", "archive has no model weights"))
    findings.extend(_scan_config_member(archive, allow))
    return findings


def _scan_config_member(archive, allow):
    info = archive.getinfo("config.json")
    if info.file_size > MAX_CONFIG_BYTES:
        return [Finding("high", "config-too-large",
                        f"config.json declares {info.file_size} bytes (limit {MAX_CONFIG_BYTES})",
                        "config.json")]
    try:
        with archive.open(info) as member:
            raw = member.read(MAX_CONFIG_BYTES + 1)
        if len(raw) > MAX_CONFIG_BYTES:
            raise ValueError("config.json is larger than declared")
        config = json.loads(raw.decode("utf-8"))
    except RecursionError:
        return [Finding("high", "config-too-deep", "config.json nests too deeply to check",
                        "config.json")]
    except Exception as error:  # corrupt, encrypted or non-JSON member
        return [Finding("high", "bad-config", f"config.json cannot be read as JSON ({error})",
                        "config.json")]
    return walk_config(config, allow=allow, where="config.json")


def _scan_hdf5(handle, allow):
    findings = [Finding("high", "legacy-h5",
                        "legacy HDF5 model: Keras's HDF5 loader has deserialized Lambda layers "
                        "even with safe_mode=True (CVE-2025-9905); load_verified_model refuses it. "
                        "Re-save as .keras from a trusted environment")]
    try:
        import h5py

        with h5py.File(handle, "r") as h5:
            for key in ("model_config", "training_config"):
                raw = h5.attrs.get(key)
                if raw is None:
                    continue
                text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                findings.extend(walk_config(json.loads(text), allow=allow, where=key))
    except RecursionError:
        findings.append(Finding("high", "config-too-deep", "HDF5 model_config nests too deeply"))
    except Exception as error:  # unreadable HDF5: the legacy-h5 finding already blocks it
        findings.append(Finding("medium", "bad-hdf5", f"HDF5 content could not be read ({error})"))
    return findings


def _scan_pickle(handle, name):
    imports, strings = [], []
    try:
        data = handle.read()
        if data.startswith(_ZIP_MAGIC):  # torch zip: look at the embedded pickles
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                blobs = [archive.read(n) for n in archive.namelist() if n.endswith(".pkl")]
        else:
            blobs = [data]
        for blob in blobs:
            for opcode, arg, _ in pickletools.genops(io.BytesIO(blob)):
                if opcode.name in ("GLOBAL", "INST"):
                    imports.append(str(arg).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL" and len(strings) >= 2:
                    imports.append(f"{strings[-2]}.{strings[-1]}")
                elif isinstance(arg, str):
                    strings.append(arg)
    except Exception:  # truncated or non-pickle data: still refused below
        pass
    named = f"; it imports {', '.join(sorted(set(imports))[:10])}" if imports else ""
    return [Finding("critical", "pickle",
                    f"'{name}' is a pickle: loading it can run arbitrary code{named}", name)]


def _scan_directory(path, allow):
    findings = []
    for child in sorted(path.rglob("*")):
        if not child.is_file():
            continue
        relative = child.relative_to(path).as_posix()
        if child.name == "config.json" and child.parent == path:
            try:
                config = json.loads(child.read_text(encoding="utf-8"))
                findings.extend(walk_config(config, allow=allow, where=relative))
            except (ValueError, RecursionError) as error:
                findings.append(Finding("high", "bad-config", f"{relative}: {error}", relative))
        elif (relative not in _EXPECTED_MEMBERS
              and child.suffix.lower() in _PICKLE_SUFFIXES + _H5_SUFFIXES + (".keras",)):
            with open(child, "rb") as handle:
                for finding in scan_fileobj(handle, child.name, allow=allow):
                    location = f"{relative}:{finding.location}" if finding.location else relative
                    findings.append(Finding(finding.severity, finding.code, finding.message,
                                            location))
    if not (path / "config.json").is_file() and not findings:
        findings.append(Finding("high", "unknown-format",
                                f"folder '{path}' holds no Keras config.json", str(path)))
    return findings
