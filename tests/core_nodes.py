"""The core ComfyUI nodes our example workflows use, as read from ComfyUI 0.8.0's sources
(nodes.py, comfy_extras/nodes_video.py), for validating workflow files without ComfyUI.

inputs: link slots (name -> type, optional marked with '?'); widgets: (name, kind, rule) in
widget order; kind FILE takes any model file name, COMBO a listed choice, INT/FLOAT a range.
"""
FILE = "FILE"

CORE_NODES = {
    "CLIPLoader": {"inputs": {}, "outputs": ["CLIP"], "widgets": [
        ("clip_name", FILE, None),
        ("type", "COMBO", ["stable_diffusion", "stable_cascade", "sd3", "stable_audio", "mochi", "ltxv", "pixart",
                           "cosmos", "lumina2", "wan", "hidream", "chroma", "ace", "omnigen2", "qwen_image",
                           "hunyuan_image", "flux2", "ovis"]),
        ("device", "COMBO", ["default", "cpu"])]},
    "CLIPTextEncode": {"inputs": {"clip": "CLIP"}, "outputs": ["CONDITIONING"], "widgets": [("text", "STRING", None)]},
    "UNETLoader": {"inputs": {}, "outputs": ["MODEL"], "widgets": [  # ComfyUI 0.27.0 nodes.py
        ("unet_name", FILE, None), ("weight_dtype", "COMBO", ["default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2"])]},
    "VAELoader": {"inputs": {}, "outputs": ["VAE"], "widgets": [("vae_name", FILE, None)]},
    "VAEDecode": {"inputs": {"samples": "LATENT", "vae": "VAE"}, "outputs": ["IMAGE"], "widgets": []},
    "VAEDecodeTiled": {"inputs": {"samples": "LATENT", "vae": "VAE"}, "outputs": ["IMAGE"], "widgets": [
        ("tile_size", "INT", (64, 4096)), ("overlap", "INT", (0, 4096)), ("temporal_size", "INT", (8, 4096)),
        ("temporal_overlap", "INT", (4, 4096))]},
    "CreateVideo": {"inputs": {"images": "IMAGE", "audio?": "AUDIO"}, "outputs": ["VIDEO"],
                    "widgets": [("fps", "FLOAT", (1.0, 120.0))]},
    "SaveVideo": {"inputs": {"video": "VIDEO"}, "outputs": [], "widgets": [
        ("filename_prefix", "STRING", None), ("format", "COMBO", ["auto", "mp4"]), ("codec", "COMBO", ["auto", "h264"])]},
    "SaveAnimatedWEBP": {"inputs": {"images": "IMAGE"}, "outputs": [], "widgets": [
        ("filename_prefix", "STRING", None), ("fps", "FLOAT", (0.01, 1000.0)), ("lossless", "BOOLEAN", None),
        ("quality", "INT", (0, 100)), ("method", "COMBO", ["default", "fastest", "slowest"])]},
    # front-end only notes
    "Note": {"inputs": {}, "outputs": [], "widgets": [("text", "STRING", None)]},
    "MarkdownNote": {"inputs": {}, "outputs": [], "widgets": [("text", "STRING", None)]},
}
