// The review page's behaviour: zoom the timeline, draw its time axis, seek the video on a click.
(function () {
  "use strict";
  const lanes = document.querySelector(".lanes");
  const video = document.getElementById("video");
  const zoom = document.getElementById("zoom");
  const axis = document.querySelector(".axis");

  function clock(seconds) {
    const s = Math.floor(seconds), m = Math.floor(s / 60);
    return m + ":" + String(s % 60).padStart(2, "0");
  }

  // Ticks at a round step that leaves about 90 px between labels at the current zoom.
  function drawAxis() {
    if (!axis || !lanes) return;
    const duration = parseFloat(lanes.dataset.duration) || 1;
    const perSecond = lanes.getBoundingClientRect().width / duration;
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800];
    const step = steps.find((s) => s * perSecond >= 90) || 3600;
    axis.replaceChildren();
    for (let t = 0; t <= duration; t += step) {
      const tick = document.createElement("span");
      tick.className = "tick";
      tick.style.left = (100 * t / duration) + "%";
      tick.textContent = clock(t);
      axis.appendChild(tick);
    }
  }

  if (zoom && lanes) {
    zoom.addEventListener("input", () => { lanes.style.setProperty("--zoom", zoom.value); drawAxis(); });
  }
  window.addEventListener("resize", drawAxis);
  drawAxis();

  // A bar or a thumbnail seeks the player to where it starts.
  document.querySelectorAll("[data-start]").forEach((element) => {
    element.addEventListener("click", () => {
      if (!video) return;
      video.currentTime = parseFloat(element.dataset.start);
      video.scrollIntoView({ block: "nearest" });
    });
  });
})();
