"""Routes for base_models (placeholder until its issue lands)."""

from fastapi import APIRouter

router = APIRouter()
