"""The evaluation app (`python app.py ckpt=PATH`): "real or fake?" against the discriminator, a generator
playground and two checkpoints compared, in the browser.

`game` and `playground` hold the logic and maths (no Gradio), `loading` what is served, `ui` the page, and
`server` starts it. Importing this package does not import Gradio.
"""
