"""Shapes shared by several resources."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a longer list: `total` counts every item matching the filters."""

    items: list[T]
    total: int
    page: int
    page_size: int
