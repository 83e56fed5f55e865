// Garment Studio tab: the task id that lets the WebUI's progress bar (javascript/progressbar.js) follow a
// Preview or Generate. Every identifier starts with garmentStudio: the WebUI shares one global namespace.

function garmentStudioRoot() {
    return typeof gradioApp === "function" ? gradioApp() : document;
}

function garmentStudioTaskId() {
    if (typeof randomId === "function") {
        return randomId();
    }
    return "task(" + Math.random().toString(36).slice(2, 12) + ")";
}

// Called by the buttons' js with every value gradio passes (the inputs, then the outputs' current values):
// returns the first `count` values with a fresh "task(...)" id first, and starts the WebUI's progress bar above
// the element `containerId` (with live previews in `galleryId` when given). Outside the WebUI there is no
// progress bar, only the id.
function garmentStudioSubmit(count, args, containerId, galleryId) {
    var values = Array.from(args).slice(0, count);
    var id = garmentStudioTaskId();
    values[0] = id;
    if (typeof requestProgress === "function") {
        var root = garmentStudioRoot();
        var container = root.querySelector("#" + containerId);
        var gallery = galleryId ? root.querySelector("#" + galleryId) : null;
        if (container && container.parentNode) {
            requestProgress(id, container, gallery, function() {});
        }
    }
    return values;
}
