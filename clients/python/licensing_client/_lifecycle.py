"""Closing what a client opened, shared by the instance and partner clients."""

from __future__ import annotations

from types import TracebackType
from typing import Self

import requests


class SessionOwner:
    """Closes the HTTP session on ``close()`` or ``with`` exit, unless the caller gave it."""

    _session: requests.Session
    _owns_session: bool

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
