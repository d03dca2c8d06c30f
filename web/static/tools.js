// The eight tools on a Cesium viewer. Each tool is split in two: `prepare` turns validated arguments into Cesium
// values and may throw (an unknown colour, an unparseable time) before anything changes, `run` applies them.
/* global Cesium */

const DEFAULT_COLORS = { point: "#ffcc00", polyline: "#00c8ff", polygon: "#ff6a00", circle: "#33dd66" };
const ZOOM_STEP = 2;                 // one zoom step halves (in) or doubles (out) the camera height
const MIN_HEIGHT = 50, MAX_HEIGHT = 5e7;
const DEFAULT_FLY_HEIGHT = 1.5e6;    // metres, when flyTo has no height
const DEFAULT_FLY_SECONDS = 2;

export function parseColor(text, where) {
  const color = typeof text === "string" ? Cesium.Color.fromCssColorString(text.trim().toLowerCase()) : undefined;
  if (!color) throw new Error(`${where}: unknown color ${JSON.stringify(text)} (use a CSS color name or #RRGGBB)`);
  return color;
}

// Cesium parses ISO 8601; a time without an offset is taken as UTC so a call means the same everywhere.
export function parseTime(text) {
  let s = text.trim().replace(" ", "T").replace(",", ".");
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) s += "T00:00:00Z";
  else if (!/(Z|z|[+-]\d{2}:?\d{2}(:?\d{2})?)$/.test(s)) s += "Z";
  try {
    return Cesium.JulianDate.fromIso8601(s.replace(/z$/, "Z"));
  } catch (e) {
    throw new Error(`arguments.time: cannot read ${JSON.stringify(text)} as a date-time: ${e.message}`);
  }
}

function degreesArray(positions) {
  return Cesium.Cartesian3.fromDegreesArray(positions.flatMap((p) => [p.longitude, p.latitude]));
}

export function cameraCartographic(viewer) {
  const c = viewer.camera.positionCartographic;
  return { longitude: Cesium.Math.toDegrees(c.longitude), latitude: Cesium.Math.toDegrees(c.latitude), height: c.height };
}

let counter = 0;
function nextId(kind) { counter += 1; return `${kind}-${counter}`; }

const SCENE_MODES = { "2D": "SCENE2D", "3D": "SCENE3D", COLUMBUS_VIEW: "COLUMBUS_VIEW" };

export const TOOLS = {
  flyTo: {
    prepare(viewer, a) {
      const height = a.height ?? DEFAULT_FLY_HEIGHT;
      const duration = a.duration ?? DEFAULT_FLY_SECONDS;
      const destination = Cesium.Cartesian3.fromDegrees(a.longitude, a.latitude, height);
      return () => {
        viewer.camera.cancelFlight();
        if (duration === 0) viewer.camera.setView({ destination });
        else viewer.camera.flyTo({ destination, duration });
        return `camera ${duration === 0 ? "moved" : `flying (${duration} s)`} to ${a.longitude.toFixed(3)}, ${a.latitude.toFixed(3)} at ${Math.round(height)} m`;
      };
    },
  },
  addPoint: {
    prepare(viewer, a) {
      const color = parseColor(a.color ?? DEFAULT_COLORS.point, "arguments.color");
      const id = nextId("point");
      return () => {
        viewer.entities.add({
          id, name: a.name,
          position: Cesium.Cartesian3.fromDegrees(a.longitude, a.latitude),
          point: { pixelSize: a.size ?? 10, color, outlineColor: Cesium.Color.WHITE, outlineWidth: 1,
                   disableDepthTestDistance: Number.POSITIVE_INFINITY },
          label: a.name ? { text: a.name, font: "14px sans-serif", pixelOffset: new Cesium.Cartesian2(0, -18),
                            fillColor: Cesium.Color.WHITE, outlineColor: Cesium.Color.BLACK, outlineWidth: 2,
                            style: Cesium.LabelStyle.FILL_AND_OUTLINE,
                            disableDepthTestDistance: Number.POSITIVE_INFINITY } : undefined,
          properties: { kind: "point" },
        });
        return `added point ${a.name ? JSON.stringify(a.name) + " " : ""}(${id})`;
      };
    },
  },
  addPolyline: {
    prepare(viewer, a) {
      const color = parseColor(a.color ?? DEFAULT_COLORS.polyline, "arguments.color");
      const positions = degreesArray(a.positions);
      const id = nextId("polyline");
      return () => {
        viewer.entities.add({ id, name: a.name, properties: { kind: "polyline" },
          polyline: { positions, width: a.width ?? 3, material: color, arcType: Cesium.ArcType.GEODESIC } });
        return `added line through ${a.positions.length} places (${id})`;
      };
    },
  },
  addPolygon: {
    prepare(viewer, a) {
      const color = parseColor(a.color ?? DEFAULT_COLORS.polygon, "arguments.color");
      const hierarchy = new Cesium.PolygonHierarchy(degreesArray(a.positions));
      const id = nextId("polygon");
      return () => {
        viewer.entities.add({ id, name: a.name, properties: { kind: "polygon" },
          // height 0: without it Cesium clamps to terrain and drops the outline (with a console warning).
          polygon: { hierarchy, height: 0, material: color.withAlpha(0.6), extrudedHeight: a.extrudedHeight,
                     outline: true, outlineColor: color } });
        return `added polygon with ${a.positions.length} corners${a.extrudedHeight ? `, ${a.extrudedHeight} m high` : ""} (${id})`;
      };
    },
  },
  addCircle: {
    prepare(viewer, a) {
      const color = parseColor(a.color ?? DEFAULT_COLORS.circle, "arguments.color");
      const id = nextId("circle");
      return () => {
        viewer.entities.add({ id, name: a.name, properties: { kind: "circle" },
          position: Cesium.Cartesian3.fromDegrees(a.longitude, a.latitude),
          ellipse: { semiMajorAxis: a.radius, semiMinorAxis: a.radius, height: 0, material: color.withAlpha(0.5),
                     outline: true, outlineColor: color } });
        return `added circle of ${a.radius} m (${id})`;
      };
    },
  },
  zoom: {
    prepare(viewer, a) {
      return () => {
        const height = viewer.camera.positionCartographic.height;
        const target = Math.min(MAX_HEIGHT, Math.max(MIN_HEIGHT, height * Math.pow(ZOOM_STEP, -a.amount)));
        if (target < height) viewer.camera.zoomIn(height - target);
        else viewer.camera.zoomOut(target - height);
        return `zoomed ${a.amount > 0 ? "in" : "out"}: height ${Math.round(height)} m -> ${Math.round(viewer.camera.positionCartographic.height)} m`;
      };
    },
  },
  setSceneMode: {
    prepare(viewer, a) {
      const mode = Cesium.SceneMode[SCENE_MODES[a.mode]];
      return () => {
        // A morph resets the camera to a default view: keep where it was looking from.
        const here = cameraCartographic(viewer);
        viewer.camera.cancelFlight();
        const scene = viewer.scene;
        if (mode === Cesium.SceneMode.SCENE2D) scene.morphTo2D(0);
        else if (mode === Cesium.SceneMode.SCENE3D) scene.morphTo3D(0);
        else scene.morphToColumbusView(0);
        viewer.camera.setView({ destination: Cesium.Cartesian3.fromDegrees(here.longitude, here.latitude, here.height) });
        return `scene mode ${a.mode}`;
      };
    },
  },
  setTime: {
    prepare(viewer, a) {
      const time = a.time !== undefined ? parseTime(a.time) : undefined;
      return () => {
        const clock = viewer.clock;
        if (time) {
          clock.currentTime = time;
          // Keep the clock's range around the new time, or a CLAMPED/LOOP range would pull it back.
          clock.clockRange = Cesium.ClockRange.UNBOUNDED;
        }
        if (a.multiplier !== undefined) clock.multiplier = a.multiplier;
        clock.shouldAnimate = true;
        return `clock ${Cesium.JulianDate.toIso8601(clock.currentTime, 0)} x${clock.multiplier}`;
      };
    },
  },
};

export function clearAll(viewer) {
  const n = viewer.entities.values.length;
  viewer.entities.removeAll();
  return `removed ${n} entities`;
}

function cssColor(material, time) {
  const c = material && material.getValue ? material.getValue(time) : material;
  const color = c && c.color ? c.color : c;
  return color instanceof Cesium.Color ? color.toCssHexString() : undefined;
}

const v = (p, time) => (p && p.getValue ? p.getValue(time) : p);

function toDegrees(cartesian) {
  const c = Cesium.Cartographic.fromCartesian(cartesian);
  return { longitude: Cesium.Math.toDegrees(c.longitude), latitude: Cesium.Math.toDegrees(c.latitude) };
}

// What is on the globe, read back from Cesium's entities (not from what we asked for).
export function describeEntities(viewer) {
  const time = viewer.clock.currentTime;
  return viewer.entities.values.map((e) => {
    const kind = e.properties && e.properties.kind ? e.properties.kind.getValue(time) : "other";
    const out = { id: e.id, kind, name: e.name };
    if (e.point) Object.assign(out, toDegrees(v(e.position, time)), { color: cssColor(e.point.color, time), size: v(e.point.pixelSize, time) });
    if (e.ellipse) Object.assign(out, toDegrees(v(e.position, time)), { color: cssColor(e.ellipse.outlineColor, time), radius: v(e.ellipse.semiMajorAxis, time) });
    if (e.polyline) Object.assign(out, { positions: v(e.polyline.positions, time).map(toDegrees), color: cssColor(e.polyline.material, time), width: v(e.polyline.width, time) });
    if (e.polygon) Object.assign(out, { positions: v(e.polygon.hierarchy, time).positions.map(toDegrees), color: cssColor(e.polygon.outlineColor, time), extrudedHeight: v(e.polygon.extrudedHeight, time) });
    return out;
  });
}
