"""Key loading, path checks and atomic writes shared by the integrity tools."""

import os
import pathlib
import tempfile

SUPPORTED_CURVES = ("secp256r1", "secp384r1", "secp521r1")


def check_path(value, name, *, must_exist=True, kind="file or directory"):
    """Returns `value` as a `pathlib.Path` after checking its type (and existence)."""
    if isinstance(value, bytes) or not isinstance(value, (str, os.PathLike)):
        raise TypeError(
            f"Expected `{name}` to be a path (str or os.PathLike). "
            f"Received: {name}={value!r} of type {type(value).__name__}"
        )
    path = pathlib.Path(value)
    if must_exist and not path.exists():
        raise FileNotFoundError(
            f"Expected `{name}` to be an existing {kind}. Received: {name}='{path}' "
            "(no such file or directory)"
        )
    return path


def _read_key_file(value, name):
    path = check_path(value, name, kind="PEM key file")
    if not path.is_file():
        raise ValueError(f"Expected `{name}` to be a PEM key file. Received: {name}='{path}' "
                         "(a directory)")
    try:
        return path, path.read_bytes()
    except OSError as error:
        raise PermissionError(
            f"Expected `{name}` to be a readable PEM key file. Received: {name}='{path}' "
            f"({error.strerror or error})"
        ) from None


def _check_curve(key, path, name, what):
    from cryptography.hazmat.primitives.asymmetric import ec

    if not isinstance(key, what):
        raise ValueError(
            f"Expected `{name}` to hold an elliptic-curve key (P-256, P-384 or P-521), the "
            f"kind OpenSSF model signing uses. Received: {name}='{path}' holding a "
            f"{type(key).__name__}. Create a pair with keras_mlsec.integrity.generate_keypair "
            "or `keras-mlsec keygen`."
        )
    curve = key.curve.name
    if curve not in SUPPORTED_CURVES:
        raise ValueError(
            f"Expected `{name}` on curve P-256, P-384 or P-521. Received: {name}='{path}' "
            f"on curve {curve}"
        )
    return key, ec


def load_private_key(value, name="private_key", password=None):
    """Loads and checks an elliptic-curve private key; returns `(path, key)`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path, data = _read_key_file(value, name)
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except TypeError as error:
        raise ValueError(f"Expected `{name}` to be an unencrypted PEM private key or a "
                         f"matching password. Received: {name}='{path}' ({error})") from None
    except ValueError:
        hint = (" (this is a public key; signing needs the private key)"
                if b"PUBLIC KEY" in data else "")
        raise ValueError(
            f"Expected `{name}` to be a PEM-encoded elliptic-curve private key. "
            f"Received: {name}='{path}' which could not be parsed{hint}"
        ) from None
    _check_curve(key, path, name, ec.EllipticCurvePrivateKey)
    return path, key


def load_public_key(value, name="public_key"):
    """Loads and checks an elliptic-curve public key; returns `(path, key)`."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path, data = _read_key_file(value, name)
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        hint = (" (this is a private key; verification needs the public key)"
                if b"PRIVATE KEY" in data else "")
        raise ValueError(
            f"Expected `{name}` to be a PEM-encoded elliptic-curve public key. "
            f"Received: {name}='{path}' which could not be parsed{hint}"
        ) from None
    _check_curve(key, path, name, ec.EllipticCurvePublicKey)
    return path, key


def fsync_directory(directory):
    """Flushes a directory entry (a rename) to disk where the platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temporary_path(target, suffix=""):
    """A fresh, unused path in the directory of `target` (for write-then-rename)."""
    target = pathlib.Path(target)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=f".tmp{suffix}",
                                dir=target.parent)
    os.close(fd)
    return pathlib.Path(name)


def atomic_write_bytes(target, data, *, mode=None):
    """Writes `data` to `target` through a temporary file, fsync and rename."""
    target = pathlib.Path(target)
    tmp = temporary_path(target)
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_directory(target.parent)
