"""Live selling in the admin: sessions (with their report and its CSV), shelves, settings.

A store manager sees and changes only the sessions of their stores and their shelves
(``admin.live.sessions.LiveView``); the rules (a stream source, the host, a shelf item's
price and window) are the ``live`` services', which the views call.
"""
