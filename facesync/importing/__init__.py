"""`facesync import`: adopt collections that already exist on a Face resource.

read (service → live collections, GETs only) → convert (live → configuration values, matching
faces to local images by fingerprint) → emit (values → YAML that reads back exactly).
"""

from facesync.importing.convert import Converter, ImportedCollection, ImportStats, TwinsError
from facesync.importing.emit import document
from facesync.importing.images import ImageIndex, index_images
from facesync.importing.read import SelectionError, list_all, read_selected, select

__all__ = [
    "Converter",
    "ImageIndex",
    "ImportStats",
    "ImportedCollection",
    "SelectionError",
    "TwinsError",
    "document",
    "index_images",
    "list_all",
    "read_selected",
    "select",
]
