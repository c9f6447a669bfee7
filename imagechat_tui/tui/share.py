"""`imagechat-tui IMAGE --share`: upload the image at once and say the link that opens it."""

from __future__ import annotations

import ssl

from ..client.imagecache import ImageCache
from ..client.images import resolve, share
from ..client.links import format_link
from ..client.rest import RestClient

UPLOAD_OFF = ("uploading is turned off (upload = false in the config file, IMAGECHAT_UPLOAD=0 or --no-upload), "
              "and --share would upload the image: nothing was sent")


async def share_image(target: str, server: str, token: str, *, cafile: str | None = None,
                      cache: ImageCache | None = None) -> str:
    """Upload the image `target` names unless the server has it; the link. Raises ClientError."""
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=cafile) if cafile else True
    rest = RestClient(server, token, verify=verify, timeout=60)
    try:
        resolved = await resolve(target, rest=rest, cache=cache, verify=verify)
        await share(rest, resolved)
    finally:
        await rest.aclose()
    return format_link(resolved.key)

