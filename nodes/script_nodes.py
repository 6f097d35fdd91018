"""Scene script nodes: build a timeline of scenes one node at a time, or from one text box.

Scripts are immutable values: each node returns a new, longer script, so one script can branch
into several graphs.
"""
from __future__ import annotations

from ..engine.errors import EchoError
from ..memory.scene_pool import prompt_feature
from ..runtime.recall_text import recall_texts
from ..runtime.script import SceneScript
from ..runtime.timeline_text import parse_timeline
from .types import CATEGORY, SCENE_SCRIPT, conditioning_tensor

SECONDS = ("FLOAT", {"default": 10.0, "min": 0.25, "max": 36000.0, "step": 0.25, "round": 0.25,
                     "tooltip": "How long the scene lasts. One block of 3 latent frames is 0.75 s of video "
                                "(12 frames at 16 fps); durations are rounded down to whole blocks."})
LABEL = ("STRING", {"default": "", "tooltip": "Optional name of the scene, so a Scene Recall can return to it."})
PROMPT = ("CONDITIONING", {"tooltip": "The scene's prompt, from CLIP Text Encode with the umt5 Wan text encoder."})
SCRIPT_IN = (SCENE_SCRIPT, {"tooltip": "The script so far."})
SCRIPT_OUT = ("The script with this scene appended.",)


class EchoSceneStart:
    DESCRIPTION = "Begins a scene script with its first scene."
    CATEGORY = CATEGORY
    SEARCH_ALIASES = ["scene", "shot", "storyboard", "first prompt"]
    FUNCTION = "start"
    RETURN_TYPES = (SCENE_SCRIPT,)
    RETURN_NAMES = ("script",)
    OUTPUT_TOOLTIPS = ("A script holding this one scene.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"conditioning": PROMPT, "seconds": SECONDS}, "optional": {
            "label": LABEL,
            "on_continue": (["smooth", "cut", "auto"], {
                "default": "smooth", "tooltip": "When this script continues a session whose current prompt is "
                                                "different: how to switch to this scene. The same prompt simply "
                                                "carries on."}),
        }}

    def start(self, conditioning, seconds, label="", on_continue="smooth"):
        cond = conditioning_tensor(conditioning, "Scene Start")
        return (SceneScript.start(cond, float(seconds), label, on_continue),)


class _AddScene:
    CATEGORY = CATEGORY
    FUNCTION = "add"
    RETURN_TYPES = (SCENE_SCRIPT,)
    RETURN_NAMES = ("script",)
    OUTPUT_TOOLTIPS = SCRIPT_OUT
    TRANSITION = ""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"script": SCRIPT_IN, "conditioning": PROMPT, "seconds": SECONDS},
                "optional": {"label": LABEL}}

    def add(self, script, conditioning, seconds, label=""):
        return (_script(script).then(conditioning_tensor(conditioning, type(self).__name__), float(seconds),
                                     self.TRANSITION, label),)


class EchoPromptSwitch(_AddScene):
    DESCRIPTION = ("A smooth transition to a new prompt: the old scene's memory stays and fades out "
                   "(difference-aware decay), so the video flows into the new scene.")
    TRANSITION = "smooth"
    SEARCH_ALIASES = ["prompt travel", "change prompt", "smooth transition"]


class EchoHardCut(_AddScene):
    DESCRIPTION = ("A hard cut: the old scene is dropped from the attention window (only a faint recall "
                   "frame remains for one block) and positions jump, so the new shot starts fresh.")
    TRANSITION = "cut"
    SEARCH_ALIASES = ["scene cut", "new shot", "cut"]


class EchoAutoTransition(_AddScene):
    DESCRIPTION = ("Lets the scene memory choose: recall a past scene whose prompt is very similar, a smooth "
                   "switch when the new prompt is close to the current one, else a hard cut. Similarity is the "
                   "cosine of the mean-pooled conditioning (only a CONDITIONING arrives here, not the text).")
    TRANSITION = "auto"
    SEARCH_ALIASES = ["automatic transition", "switch prompt", "choose transition"]


class EchoSceneRecall(_AddScene):
    DESCRIPTION = ("Returns to a scene seen earlier: its stored Scene Recall Frame is put back into memory so "
                   "the place, characters and look come back. Name the scene by label or 0-based index, or "
                   "leave the target empty to recall the past scene whose prompt is most similar. Only a "
                   "CONDITIONING arrives here, so similarity is that of the mean-pooled embeddings (words all "
                   "prompts share count too); Scene Script From Text matches by prompt text as the released "
                   "Echo-Forcing code does.")
    SEARCH_ALIASES = ["return to scene", "flashback", "recall", "go back"]

    @classmethod
    def INPUT_TYPES(cls):
        types = super().INPUT_TYPES()
        types["optional"]["target"] = ("STRING", {
            "default": "", "tooltip": "Label or 0-based index of the scene to recall; empty = the most similar "
                                      "prompt (cosine of the mean-pooled conditioning: without the prompt text, "
                                      "words shared by all prompts are not filtered out as in the released code)."})
        return types

    def add(self, script, conditioning, seconds, label="", target=""):
        target = (target or "").strip() or None
        cond = conditioning_tensor(conditioning, "Scene Recall")
        return (_script(script).then(cond, float(seconds), "recall", label, target),)


class EchoSceneScriptFromText:
    DESCRIPTION = ("A whole timeline in one text box, in Echo-Forcing's prompt syntax. Scenes are separated by "
                   "'|'; each has a duration [10s]. A marker after the number sets the transition OUT of that "
                   "scene into the next: [10s#] = hard cut, [10s@] = recall (of the most similar earlier scene), "
                   "no marker = smooth. Example: 'a beach at dawn [10s#] | a city at night [10s@] | the beach "
                   "at noon [10s]'. Text after ';' in a scene is ignored (subtitles). With a recall in the "
                   "timeline, scenes are matched as the released code matches them: words found in at least "
                   "max(2, ceil(0.7 N)) of the N prompts (and stop words) are dropped, the rest re-encoded.")
    CATEGORY = CATEGORY
    SEARCH_ALIASES = ["timeline", "prompt schedule", "multi prompt", "storyboard text"]
    FUNCTION = "build"
    RETURN_TYPES = (SCENE_SCRIPT,)
    RETURN_NAMES = ("script",)
    OUTPUT_TOOLTIPS = ("The script, each scene's prompt encoded with the CLIP.",)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "clip": ("CLIP", {"tooltip": "The umt5 text encoder (CLIPLoader, type wan). With a recall in the "
                                         "timeline it also encodes each prompt's distinctive words (the released "
                                         "code's recall-by-similarity feature)."}),
            "timeline": ("STRING", {"multiline": True, "default": "a red fox runs through fresh snow [10s] | "
                                    "the fox leaps into a frozen river [10s]",
                                    "tooltip": "Scenes separated by '|', each with [Ns], [Ns#] or [Ns@]."}),
            "default_seconds": ("FLOAT", {"default": 10.0, "min": 0.25, "max": 36000.0, "step": 0.25,
                                          "round": 0.25,
                                          "tooltip": "Duration of a scene written without [Ns]."}),
        }}

    def build(self, clip, timeline, default_seconds=10.0):
        return (encode_scenes(clip, parse_timeline(timeline, default_seconds), "Scene Script From Text"),)


def encode_scenes(clip, scenes, where: str) -> SceneScript:
    """A script of parsed text scenes, each prompt encoded once with the CLIP."""
    encoded: dict[str, object] = {}

    def encode(text):  # one encoding per distinct text
        if text not in encoded:
            encoded[text] = conditioning_tensor(_encode(clip, text), where)
        return encoded[text]

    conds = [encode(scene.prompt) for scene in scenes]
    features = [None] * len(scenes)
    # the released code builds them only with a recall by similarity (a named target needs none)
    if any(scene.transition == "recall" and scene.recall is None for scene in scenes):
        features = [prompt_feature(encode(text)) for text in recall_texts([scene.prompt for scene in scenes])]
    script = None
    for scene, cond, feature in zip(scenes, conds, features):
        if script is None:
            script = SceneScript.start(cond, scene.seconds, scene.label, prompt_feature=feature, text=scene.prompt)
        else:
            script = script.then(cond, scene.seconds, scene.transition, scene.label, scene.recall,
                                 prompt_feature=feature, text=scene.prompt)
    return script


def _encode(clip, prompt: str):
    """CLIP Text Encode's own call (older ComfyUI builds lack the scheduled variant)."""
    tokens = clip.tokenize(prompt)
    if hasattr(clip, "encode_from_tokens_scheduled"):
        return clip.encode_from_tokens_scheduled(tokens)
    cond, pooled = clip.encode_from_tokens(tokens, return_pooled=True)
    return [[cond, {"pooled_output": pooled}]]


def _script(script) -> SceneScript:
    if not isinstance(script, SceneScript):
        raise EchoError(f"expected a SCENE_SCRIPT from Scene Start, got {type(script).__name__}")
    return script
