// Stand-in for ComfyUI's scripts/app.js shim: records registered extensions so the harness can
// call their hooks the way the front end would.
export const app = {
  extensions: [],
  registerExtension(extension) {
    this.extensions.push(extension);
  },
};
