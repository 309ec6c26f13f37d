"""Emoji Cam in the system tray (the ``emoji-cam`` command).

The tray drives the engine (vcam_emoji.engine.Engine); the engine never imports the tray. pystray owns the main thread
(macOS requires it) and the engine runs on a worker. pystray is imported lazily, only in ``tray/backend.py``, because
``import pystray`` fails without a display.

Modules: ``menu`` (pure menu model), ``icon`` (icon images per state), ``backend`` (pystray or a headless fallback),
``autostart`` (start at login), ``single_instance`` (one Emoji Cam at a time), ``xorg_icon`` (fixes for pystray's
plain X11 icon), ``system_gi`` (lets a venv use the system's PyGObject, for the menu on Linux), ``app`` (``main()``).
"""
