// The CAD domain's scene: named solids (boxes, cylinders, spheres, and boolean combinations of them) that validated
// tool calls create, move, rotate, extrude, combine and delete, with a list and an SVG top view. It is not a
// geometry kernel: a boolean keeps its two operands and the operation, it does not compute the resulting solid.
// Like tools.js, every tool is split in two: `prepare` checks references (an unknown name, a taken name) and may
// throw before anything changes, the function it returns applies the call.

const KIND_OF_TOOL = { createBox: "box", createCylinder: "cylinder", createSphere: "sphere" };
const ORIGIN = { x: 0, y: 0, z: 0 };
const SVG_NS = "http://www.w3.org/2000/svg";

const copy = (value) => JSON.parse(JSON.stringify(value));
const mm = (n) => `${Math.round(n * 100) / 100} mm`;

export class CadModel {
  constructor() {
    this.objects = new Map(); // name -> solid, in creation order
    this.operations = [];     // every executed call with its message
  }

  find(name, where) {
    const solid = this.objects.get(name);
    if (!solid) {
      const have = [...this.objects.keys()];
      throw new Error(`${where}: no object named ${JSON.stringify(name)} (${have.length ? `objects: ${have.join(", ")}` : "the model is empty"})`);
    }
    return solid;
  }

  freeName(kind) {
    for (let n = 1; ; n += 1) if (!this.objects.has(`${kind}${n}`)) return `${kind}${n}`;
  }

  // A function that applies the validated `call`, or an Error thrown now if the call cannot apply to this model.
  prepare(call) {
    const a = call.arguments;
    const kind = KIND_OF_TOOL[call.tool];
    let run;
    if (kind) {
      const name = a.name ?? this.freeName(kind);
      if (this.objects.has(name)) throw new Error(`arguments.name: an object named ${JSON.stringify(name)} already exists`);
      const dims = kind === "box" ? { width: a.width, depth: a.depth, height: a.height }
        : kind === "cylinder" ? { radius: a.radius, height: a.height } : { radius: a.radius };
      const solid = { name, kind, ...dims, position: { ...(a.position ?? ORIGIN) }, rotation: { x: 0, y: 0, z: 0 } };
      run = () => {
        this.objects.set(name, solid);
        return `created ${kind} ${name} (${Object.values(dims).map(mm).join(" x ")})`;
      };
    } else if (call.tool === "move") {
      const solid = this.find(a.target, "arguments.target");
      const d = { x: a.dx ?? 0, y: a.dy ?? 0, z: a.dz ?? 0 };
      run = () => {
        translate(solid, d);
        return `moved ${solid.name} by (${d.x}, ${d.y}, ${d.z}) mm`;
      };
    } else if (call.tool === "rotate") {
      const solid = this.find(a.target, "arguments.target");
      run = () => {
        solid.rotation[a.axis] = ((solid.rotation[a.axis] + a.angle) % 360 + 360) % 360;
        return `rotated ${solid.name} by ${a.angle}° about ${a.axis}`;
      };
    } else if (call.tool === "extrude") {
      const solid = this.find(a.target, "arguments.target");
      if (solid.kind !== "box" && solid.kind !== "cylinder") {
        throw new Error(`arguments.target: cannot extrude ${solid.name} (a ${solid.kind}); extrude works on boxes and cylinders`);
      }
      run = () => {
        solid.height += a.distance; // the top face moves up, the bottom stays: the centre rises by half
        solid.position.z += a.distance / 2;
        return `extruded ${solid.name} by ${mm(a.distance)} (height ${mm(solid.height)})`;
      };
    } else if (call.tool === "boolean") {
      if (a.a === a.b) throw new Error(`arguments.b: a boolean needs two different objects, got ${JSON.stringify(a.a)} twice`);
      const first = this.find(a.a, "arguments.a");
      const second = this.find(a.b, "arguments.b");
      const name = a.name ?? a.a; // the result takes the first operand's place, as in most CAD tools
      if (this.objects.has(name) && name !== a.a && name !== a.b) {
        throw new Error(`arguments.name: an object named ${JSON.stringify(name)} already exists`);
      }
      run = () => {
        this.objects.delete(a.a);
        this.objects.delete(a.b);
        this.objects.set(name, { name, kind: "boolean", operation: a.operation, a: first, b: second,
                                 rotation: { x: 0, y: 0, z: 0 } });
        return `${a.operation} of ${a.a} and ${a.b} -> ${name}`;
      };
    } else if (call.tool === "delete") {
      const solid = this.find(a.target, "arguments.target");
      run = () => {
        this.objects.delete(solid.name);
        return `deleted ${solid.name}`;
      };
    } else {
      throw new Error(`tool: the CAD panel has no ${JSON.stringify(call.tool)} tool`);
    }
    return () => {
      const message = run();
      this.operations.push({ call: copy(call), message });
      return message;
    };
  }

  clear() {
    const n = this.objects.size;
    this.objects.clear();
    this.operations = [];
    return `removed ${n} objects`;
  }

  state() {
    return { objects: copy([...this.objects.values()]), operations: copy(this.operations) };
  }
}

function translate(solid, d) {
  if (solid.kind === "boolean") {
    translate(solid.a, d);
    translate(solid.b, d);
  } else {
    solid.position.x += d.x;
    solid.position.y += d.y;
    solid.position.z += d.z;
  }
}

// ---- the top view ----------------------------------------------------------------------------------------------

// Primitive footprints seen from +z: {shape, x, y, ...size, angle, role} with role "solid", "cut" (subtracted) or
// "common" (intersected). A box's footprint turns with its z rotation; rotations about x and y are not drawn.
function footprints(solid, role = "solid") {
  if (solid.kind === "boolean") {
    const second = solid.operation === "subtract" ? "cut" : solid.operation === "intersect" ? "common" : role;
    return [...footprints(solid.a, solid.operation === "intersect" ? "common" : role), ...footprints(solid.b, second)];
  }
  const { x, y } = solid.position;
  if (solid.kind === "box") return [{ shape: "rect", x, y, w: solid.width, d: solid.depth, angle: solid.rotation.z, role }];
  return [{ shape: "circle", x, y, r: solid.radius, role, sphere: solid.kind === "sphere" }];
}

function element(tag, attributes) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attributes)) el.setAttribute(k, String(v));
  return el;
}

export function drawTopView(svg, model) {
  svg.replaceChildren();
  const solids = [...model.objects.values()];
  const prints = solids.map((s) => ({ name: s.name, prints: footprints(s) }));
  const all = prints.flatMap((p) => p.prints);
  if (!all.length) {
    svg.setAttribute("viewBox", "-50 -50 100 100");
    svg.append(Object.assign(element("text", { x: 0, y: 0, "text-anchor": "middle", class: "cad-empty" }),
                             { textContent: "empty: create a box, cylinder or sphere" }));
    return;
  }
  // The bounding box of every footprint (a rotated box by its circumscribed circle): cheap and never clips.
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const f of all) {
    const r = f.shape === "rect" ? Math.hypot(f.w, f.d) / 2 : f.r;
    [x0, y0, x1, y1] = [Math.min(x0, f.x - r), Math.min(y0, f.y - r), Math.max(x1, f.x + r), Math.max(y1, f.y + r)];
  }
  const size = Math.max(x1 - x0, y1 - y0, 1e-6);
  const margin = size * 0.08;
  // SVG's y grows downwards; CAD's +y is forward (up on a top view): every y is negated.
  svg.setAttribute("viewBox", `${x0 - margin} ${-y1 - margin} ${x1 - x0 + 2 * margin} ${y1 - y0 + 2 * margin}`);
  const stroke = size / 200;
  for (const { name, prints: shapes } of prints) {
    const group = element("g", { "data-name": name });
    for (const f of shapes) {
      const cls = `cad-${f.role}${f.sphere ? " cad-sphere" : ""}`;
      const el = f.shape === "rect"
        ? element("rect", { x: f.x - f.w / 2, y: -f.y - f.d / 2, width: f.w, height: f.d, class: cls,
                            transform: `rotate(${-f.angle} ${f.x} ${-f.y})` })
        : element("circle", { cx: f.x, cy: -f.y, r: f.r, class: cls });
      el.setAttribute("stroke-width", String(stroke));
      group.append(el);
    }
    const label = element("text", { x: shapes[0].x, y: -shapes[0].y, "text-anchor": "middle", "font-size": size / 18,
                                    class: "cad-label" });
    label.textContent = name;
    group.append(label);
    svg.append(group);
  }
}
