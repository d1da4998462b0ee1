"""The Gradio app: customer chat with sources, and the API for `gradio_client`."""
