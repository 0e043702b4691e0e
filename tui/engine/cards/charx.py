"""CHARX: a zip with `card.json` at its root plus `assets/...`. Entry count and sizes are capped."""

from __future__ import annotations

import io
import zipfile
import zlib

from . import errors
from .convert import card_from_dict
from .decode import json_from_bytes
from .errors import CardError, human_size
from .model import Card
from .png_chunks import is_valid_png

CARD_ENTRY = "card.json"
ZIP_SIGNATURE = b"PK\x03\x04"
# The V3 spec spells it "embeded://"; accept the correct spelling too.
EMBED_PREFIXES = ("embeded://", "embedded://")


def _check_declared(infos: list[zipfile.ZipInfo], filename: str) -> None:
    """Refuse a zip bomb from its directory, before inflating anything."""
    if len(infos) > errors.MAX_ZIP_ENTRIES:
        raise CardError(filename, f"zip has more than {errors.MAX_ZIP_ENTRIES} entries")
    total = 0
    for info in infos:
        if info.file_size > errors.MAX_ZIP_ENTRY_BYTES:
            raise CardError(
                filename,
                f"zip entry '{info.filename}' inflates past "
                f"{human_size(errors.MAX_ZIP_ENTRY_BYTES)}",
            )
        total += info.file_size
    if total > errors.MAX_ZIP_TOTAL_BYTES:
        raise CardError(
            filename, f"zip contents inflate past {human_size(errors.MAX_ZIP_TOTAL_BYTES)}"
        )


def read_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, filename: str) -> bytes:
    """Inflate one entry, stopping at the cap even if its declared size lied."""
    cap = errors.MAX_ZIP_ENTRY_BYTES
    out = bytearray()
    try:
        with zf.open(info) as stream:
            while chunk := stream.read(min(1 << 20, cap + 1 - len(out))):
                out += chunk
                if len(out) > cap:
                    raise CardError(
                        filename, f"zip entry '{info.filename}' inflates past {human_size(cap)}"
                    )
    except CardError:
        raise
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        OSError,
        EOFError,
        ValueError,
    ) as exc:
        raise CardError(filename, f"zip entry '{info.filename}' is corrupt ({exc})") from None
    except NotImplementedError:
        raise CardError(
            filename, f"zip entry '{info.filename}' uses an unsupported compression method"
        ) from None
    except RuntimeError as exc:  # encrypted entries
        raise CardError(filename, f"zip entry '{info.filename}' cannot be read ({exc})") from None
    return bytes(out)


def open_charx(data: bytes, filename: str) -> zipfile.ZipFile:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        NotImplementedError,
        OSError,
        ValueError,
    ) as exc:
        raise CardError(filename, f"not a readable zip ({exc})") from None
    _check_declared(zf.infolist(), filename)
    return zf


def _icon_entry(card: Card, names: set[str]) -> str | None:
    """The zip path of the card's main PNG icon, if it has one."""
    icons = [a for a in card.assets if str(a.get("type", "")).lower() == "icon"]
    icons.sort(key=lambda a: a.get("name") != "main")
    for asset in icons:
        uri = str(asset.get("uri", ""))
        for prefix in EMBED_PREFIXES:
            if uri.startswith(prefix):
                path = uri[len(prefix) :]
                if path in names and path.lower().endswith(".png"):
                    return path
    return None


def read_charx(data: bytes, filename: str) -> Card:
    """A card from CHARX bytes; its main PNG icon (if any) becomes `image_png`.

    Only `card.json` and that one icon are inflated; other assets stay in the zip.
    """
    with open_charx(data, filename) as zf:
        infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        if CARD_ENTRY not in infos:
            raise CardError(filename, "CHARX zip has no card.json at its root")
        obj = json_from_bytes(read_entry(zf, infos[CARD_ENTRY], filename), filename, CARD_ENTRY)
        card = card_from_dict(obj, filename)
        icon = _icon_entry(card, set(infos))
        if icon is not None:
            blob = read_entry(zf, infos[icon], filename)
            if is_valid_png(blob):
                card.image_png = blob
    return card
