"""Fixes for pystray's plain X11 (Xlib) tray icon, the backend used where PyGObject is missing.

pystray 0.19's xorg icon (``pystray._xorg.Icon``) has three faults that made the icon look broken and ignore clicks:

- its window asks for no button events (``ExposureMask | StructureNotifyMask`` only), so its click handler never
  runs: a click did nothing (pystray issue #151). The window here also asks for ``ButtonPressMask``.
- it paints the icon onto a black RGB picture (the alpha channel is dropped), so the transparent corners came out
  black. Here the transparent pixels are left out by a clip mask and show the tray's own background: the window takes
  its parent's background (``ParentRelative``) once the tray has taken it in, where both have the same depth (X
  forbids it otherwise; the corners then stay as the tray drew them).
- it stretches the icon to the window, which a tray may make taller than wide. Here it is fitted as a square,
  centred (tray.icon.xembed_picture).

:func:`fixed_xorg_icon` subclasses the class it is given, so pystray is still imported only by tray/backend.py; the
methods overridden are pystray 0.19's (pinned in pyproject.toml), and each change is checked by
tests/test_tray_desktop.py under Xvfb.
"""

from __future__ import annotations

import logging

from .icon import xembed_picture

log = logging.getLogger(__name__)


def fixed_xorg_icon(base: type) -> type:
    """A subclass of pystray's xorg ``Icon`` class ``base`` with the fixes above."""
    import Xlib.error
    import Xlib.X

    class XorgIcon(base):
        _mask_gc = None
        _mask_pixmap = None

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._message_handlers[Xlib.X.ReparentNotify] = self._on_reparent

        def _create_window(self):
            window = super()._create_window()
            window.change_attributes(event_mask=Xlib.X.ExposureMask | Xlib.X.StructureNotifyMask
                                     | Xlib.X.ButtonPressMask)
            return window

        def _on_reparent(self, event) -> None:
            """The tray took the window in (or let it go): take the new parent's background if X allows it."""
            if event.window.id != self._window.id:
                return
            try:
                same_depth = event.parent.get_geometry().depth == self._window.get_geometry().depth
                self._window.change_attributes(background_pixmap=Xlib.X.ParentRelative if same_depth
                                               else Xlib.X.NONE)
            except Xlib.error.XError as exc:
                log.debug("cannot take the tray's background: %s", exc)
            self._draw()

        def _assert_icon_data(self, width: int, height: int) -> None:
            if self._icon_data is not None and self._icon_data.size == (width, height):
                return
            picture, mask = xembed_picture(self._icon, (width, height))
            self._free_mask()
            self._mask_pixmap = self._window.create_pixmap(width, height, 1)
            pen = self._mask_pixmap.create_gc(foreground=1, background=0)
            self._mask_pixmap.put_pil_image(pen, 0, 0, mask)
            pen.free()
            self._mask_gc = self._window.create_gc(clip_mask=self._mask_pixmap)
            self._icon_data = picture

        def _free_mask(self) -> None:
            for resource in (self._mask_gc, self._mask_pixmap):
                if resource is not None:
                    try:
                        resource.free()
                    except Xlib.error.XError:
                        pass
            self._mask_gc = self._mask_pixmap = None

        def _draw(self) -> None:
            try:
                geometry = self._window.get_geometry()
                self._assert_icon_data(geometry.width, geometry.height)
                self._window.clear_area(0, 0, geometry.width, geometry.height)  # the background, where not drawn
                self._window.put_pil_image(self._mask_gc, 0, 0, self._icon_data)
            except Xlib.error.BadDrawable:
                pass  # the window has been destroyed

    return XorgIcon
