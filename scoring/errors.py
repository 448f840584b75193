"""The error hierarchy every layer shares (it lives here because scoring/ is the bottom layer)."""

from __future__ import annotations

__all__ = ["CloutError", "UserError"]


class CloutError(Exception):
    """Anything Clout raises on purpose."""


class UserError(CloutError):
    """Something a member or operator can fix; its message is one plain sentence shown as is."""
