"""Domain errors: each names what was refused and why, and is raised before anything changes."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal by the OMS."""


class NotFound(DomainError):
    def __init__(self, entity: str, ident: str) -> None:
        super().__init__(f"{entity} {ident!r} does not exist")
        self.entity, self.ident = entity, ident


class TransitionNotAllowed(DomainError):
    def __init__(self, entity: str, ident: str, state: str, transition: str) -> None:
        super().__init__(f"{entity} {ident!r} is {state!r}: cannot {transition}")
        self.entity, self.ident, self.state, self.transition = entity, ident, state, transition


class InsufficientStock(DomainError):
    def __init__(self, location: str, sku: str, wanted: int, available: int) -> None:
        super().__init__(
            f"{location} has {available} of {sku} available to promise, {wanted} wanted"
        )
        self.location, self.sku, self.wanted, self.available = location, sku, wanted, available


class PreconditionFailed(DomainError):
    """An action's precondition (policy book section 7) does not hold against current state."""
