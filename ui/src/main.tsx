import "./styles.css";

// index.html holds the app's first frame (header and nav): the window paints it before the app's
// script (React and every page) is even loaded, then the app mounts over it.
const root = document.getElementById("root");
if (root) {
  requestAnimationFrame(() =>
    setTimeout(() => {
      void import("./mount").then(({ mount }) => mount(root));
    }),
  );
}
