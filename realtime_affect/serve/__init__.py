"""Serving results over HTTP and WebSockets: ``affect-serve`` (the browser dashboard) and ``affect-live --serve``.

Needs the ``[serve]`` extra (Starlette, uvicorn, websockets); nothing here is imported by the rest of the
package unless a serving command asks for it.
"""
