"""Emoji Cam Studio: a web page served by the running app, on this computer only, to see and set everything.

It drives the same :class:`vcam_emoji.engine.Engine` the tray drives, through the engine's commands, its
``status()``/``last_result()`` snapshots and ``add_frame_listener``, and writes settings through the config module
(the same file, the same validation). The engine never imports this package.

Modules:
    security   who may talk to the server: 127.0.0.1, this run's token (URL, then cookie; or Bearer / ?token=),
               Host and Origin checks, response headers
    limits     request size limits and the safe image decoder
    live       the live picture (subscribed to the engine only while someone watches) and the session recorder
    catalog    the packs, their thumbnails, zip import and removal of user packs
    analyze    POST /api/v1/analyze: faces, boxes, probabilities and expression of one uploaded image
    avatar     the Avatar page's routes: the avatar library's attributes, pictures, stickers and Save as pack
    reports    the Session page's reports (vcam-emoji analyze/report's, in the folders it owns or was told about)
               and a report of the live session, through the analytics library
    api        the JSON API under /api/v1/ and its OpenAPI document
    web        the Starlette app: pages (Jinja2 templates) and static files
    server     port choice, uvicorn on a worker thread, the address with its token
    command    `vcam-emoji studio`
"""


def run_command(argv: list[str]) -> int:
    """run the live Emoji Cam with Studio, a page in your browser (on this computer only) to see and set everything

    `vcam-emoji studio`: registered as a ``vcam_emoji.commands`` entry point (pyproject.toml), so the engine's CLI
    finds it without naming this package; the server's modules are imported only here, when the command runs.
    """
    from .command import main

    return main(argv)
