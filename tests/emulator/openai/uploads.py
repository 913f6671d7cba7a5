"""Multipart bodies for `/images/edits` and `/images/variations`: parse, record, check the images.

Every file part is recorded (name, filename, content type, size, sha256, format, pixel size) before any
check, so a test can prove what a client uploaded even when the request is refused or faulted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from . import errors
from .pictures import Probe, probe
from .state import UploadedPart

MAX_GPT_IMAGES = 16
MAX_GPT_BYTES = 50 * 1024 * 1024
MAX_DALLE_BYTES = 4 * 1024 * 1024
INPUT_FORMATS = ("png", "webp", "jpeg")


@dataclass(frozen=True)
class Upload:
    part: UploadedPart
    info: Probe


@dataclass
class Form:
    """Text fields (as sent; repeated ones kept) and file parts in arrival order."""

    fields: dict[str, list[str]]
    files: list[Upload]

    def params(self) -> dict[str, Any]:
        """Fields as a parameter dict (last value wins), with file part names present as keys."""
        out: dict[str, Any] = {k: v[-1] for k, v in self.fields.items()}
        for upload in self.files:
            out.setdefault(upload.part.name, "<file>")
        return out

    def named(self, name: str) -> list[Upload]:
        return [u for u in self.files if u.part.name == name]


async def read_form(request: Request) -> Form:
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        ctype = request.headers.get("content-type", "none")
        raise errors.invalid(f"Invalid Content-Type header ({ctype}), expected multipart/form-data.", None, None)
    try:
        form = await request.form(max_files=64, max_fields=64)
    except Exception as exc:  # a malformed body is the client's fault: answer 400, not 500
        raise errors.invalid(f"Could not parse multipart form data: {exc}", None, None) from exc
    fields: dict[str, list[str]] = {}
    files: list[Upload] = []
    for name, value in form.multi_items():
        if isinstance(value, UploadFile):
            data = await value.read()
            info = probe(data)
            part = UploadedPart(
                name=name,
                filename=value.filename,
                content_type=value.content_type,
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                format=info.format,
                width=info.width,
                height=info.height,
                mode=info.mode,
                transparent_pixels=info.transparent_pixels,
            )
            files.append(Upload(part, info))
        else:
            fields.setdefault(name, []).append(value)
    await form.close()
    return Form(fields, files)


def edit_images(form: Form, family: str) -> list[Upload]:
    """The input images of an edit: one `image` part or repeated `image[]` parts, never both."""
    single, many = form.named("image"), form.named("image[]")
    if any(name in form.fields for name in ("image", "image[]", "mask")):
        raise errors.invalid("Invalid 'image': expected a file part, got a text field.", "image")
    if single and many:
        raise errors.invalid("Send either one 'image' part or repeated 'image[]' parts, not both.", "image")
    if len(single) > 1:
        raise errors.invalid("Duplicate parameter 'image': send several images as repeated 'image[]' parts.", "image")
    images = single or many
    if not images:
        raise errors.missing_parameter("image")
    if family == "dall-e-2":
        if len(images) != 1:
            raise errors.invalid("dall-e-2 edits take exactly one image.", "image")
        _square_png(images[0], "image")
        return images
    if len(images) > MAX_GPT_IMAGES:
        raise errors.invalid(f"Too many images: at most {MAX_GPT_IMAGES}, got {len(images)}.", "image")
    for upload in images:
        if upload.info.format not in INPUT_FORMATS:
            raise _unsupported(upload)
        if upload.part.size >= MAX_GPT_BYTES:
            raise errors.invalid(f"Invalid 'image': {upload.part.filename} is 50 MB or larger.", "image")
    return images


def check_mask(form: Form, first: Upload) -> Upload | None:
    """The optional mask: a PNG < 4 MB with an alpha channel, the same size as the first image."""
    masks = form.named("mask")
    if not masks:
        return None
    if len(masks) > 1:
        raise errors.invalid("Only one 'mask' part is allowed.", "mask")
    mask = masks[0]
    if mask.info.format != "png":
        raise errors.invalid(
            f"Invalid 'mask': must be a PNG file, got {mask.info.format or 'an unreadable file'}.", "mask"
        )
    if mask.part.size >= MAX_DALLE_BYTES:
        raise errors.invalid("Invalid 'mask': must be smaller than 4 MB.", "mask")
    if not mask.info.has_alpha:
        raise errors.invalid(
            f"Invalid 'mask': must have an alpha channel (mode RGBA or LA); got mode {mask.info.mode}. "
            "Fully transparent pixels mark the area to edit.",
            "mask",
        )
    got, want = (mask.info.width, mask.info.height), (first.info.width, first.info.height)
    if got != want:
        raise errors.invalid(
            f"Invalid 'mask': its size {got[0]}x{got[1]} differs from the first image's {want[0]}x{want[1]}; "
            "the mask must have the same dimensions as the image.",
            "mask",
        )
    return mask


def variation_image(form: Form) -> Upload:
    if "image" in form.fields:
        raise errors.invalid("Invalid 'image': expected a file part, got a text field.", "image")
    images = form.named("image")
    if not images:
        raise errors.missing_parameter("image")
    if len(images) > 1 or form.named("image[]"):
        raise errors.invalid("Variations take exactly one 'image'.", "image")
    _square_png(images[0], "image")
    return images[0]


def _square_png(upload: Upload, name: str) -> None:
    if upload.info.format != "png":
        raise errors.invalid(
            f"Invalid '{name}': dall-e-2 needs a PNG, got {upload.info.format or 'an unreadable file'}.", name
        )
    if upload.part.size >= MAX_DALLE_BYTES:
        raise errors.invalid(f"Invalid '{name}': must be smaller than 4 MB.", name)
    if upload.info.width != upload.info.height:
        raise errors.invalid(f"Invalid '{name}': must be square, got {upload.info.width}x{upload.info.height}.", name)


def _unsupported(upload: Upload) -> errors.ApiError:
    return errors.invalid(
        f"Invalid file '{upload.part.filename}': unsupported format ({upload.info.format or 'not an image'}). "
        "Supported formats are png, webp and jpeg.",
        upload.part.name,
        "invalid_image_format",
    )
