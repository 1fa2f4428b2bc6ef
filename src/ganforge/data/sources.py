"""Finding a dataset's files: in local folders first, downloading only when none has them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from ganforge.errors import DataError, GanforgeError, one_line

Found = TypeVar("Found")


def find_or_download(
    folders: Sequence[Path],
    find: Callable[[Path], Found | None],
    download: Callable[[], Path] | None,
    what: str,
    how_to_provide: str,
) -> Found:
    """What `find` finds in the first folder that has it; else in the folder `download` fills; else a DataError."""
    for folder in folders:
        found = find(folder)
        if found is not None:
            return found
    if download is not None:
        try:
            found = find(download())
        except GanforgeError:
            raise
        except Exception as err:  # noqa: BLE001 - any download failure means the same thing to the user
            raise DataError(f"{what} not found and the download failed: {one_line(err)}; {how_to_provide}") from err
        if found is not None:
            return found
    raise DataError(f"{what} not found; {how_to_provide}")
