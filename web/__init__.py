"""The web app: the Gradio UI (chat, compare, library), the JSON API, the embeddable widget, all in one FastAPI app.

``web.server.create_app(settings)`` builds it; ``web.server.serve(settings)`` runs it (``python app.py``).
"""
