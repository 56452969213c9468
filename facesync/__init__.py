"""facesync: GitOps for the Azure Face API."""

__version__ = "0.1.0"
