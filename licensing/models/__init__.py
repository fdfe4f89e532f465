"""Typed SQLAlchemy models: state and tiny predicates, no business rules."""

from licensing.models.activations import (
    Activation,
    ActivationStatus,
    ReleaseReason,
    UsageObservation,
)
from licensing.models.approvals import ApprovalAction, ApprovalRequest, ApprovalStatus
from licensing.models.audit import AuditEvent
from licensing.models.audit_anchors import AuditPruneAnchor
from licensing.models.base import Base
from licensing.models.catalog import Edition, Product, Release
from licensing.models.customers import Customer
from licensing.models.hash_keys import HashKey
from licensing.models.licenses import License, LicenseStatus
from licensing.models.misuse import (
    CaseStatus,
    EscalationStep,
    LeasePresentation,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    MisuseScanState,
    SignatureFailure,
)
from licensing.models.partners import (
    Disclosure,
    Partner,
    PartnerKey,
    PartnerKind,
    PartnerProduct,
    PartnerStatus,
    Scope,
)
from licensing.models.privacy import (
    HoldScope,
    LegalHold,
    PrivacyRequest,
    PrivacyRequestKind,
    PrivacyRequestStatus,
)
from licensing.models.ratelimits import RateLimitCounter
from licensing.models.replay_nonces import ReplayNonce
from licensing.models.server_keys import ServerKey
from licensing.models.staff import StaffRole, StaffUser
from licensing.models.usage_days import UsageDay

__all__ = [
    "Activation",
    "ActivationStatus",
    "ApprovalAction",
    "ApprovalRequest",
    "ApprovalStatus",
    "AuditEvent",
    "AuditPruneAnchor",
    "Base",
    "CaseStatus",
    "Customer",
    "Disclosure",
    "Edition",
    "EscalationStep",
    "HashKey",
    "HoldScope",
    "LeasePresentation",
    "LegalHold",
    "License",
    "LicenseStatus",
    "MisuseCase",
    "MisuseCaseEvent",
    "MisuseException",
    "MisuseScanState",
    "Partner",
    "PartnerKey",
    "PartnerKind",
    "PartnerProduct",
    "PartnerStatus",
    "PrivacyRequest",
    "PrivacyRequestKind",
    "PrivacyRequestStatus",
    "Product",
    "RateLimitCounter",
    "Release",
    "ReleaseReason",
    "ReplayNonce",
    "Scope",
    "ServerKey",
    "SignatureFailure",
    "StaffRole",
    "StaffUser",
    "UsageDay",
    "UsageObservation",
]
