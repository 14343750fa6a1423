"""Draw docs/lamp-axes.png: the part frame and angles of `scratchlight lamps` tables.

    PYTHONPATH=src python scripts/lamp_axes_figure.py [docs/lamp-axes.png]
"""
import math
import sys

import numpy as np

from scratchlight.report.figures import pyplot


def main(path="docs/lamp-axes.png"):
    plt = pyplot()
    fig = plt.figure(figsize=(10, 4.6), dpi=120)
    ax = fig.add_subplot(1, 2, 1, projection="3d")
    # the part: the height map's grid in the xy plane, row 0 / column 0 marked
    sq = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0], [-1, -1, 0]], float)
    ax.plot(sq[:, 0], sq[:, 1], sq[:, 2], color="0.4")
    ax.text(-1, -1, 0, "  cell (row 0, col 0)", fontsize=7, color="0.3")
    for vec, name, col in (((1.6, 0, 0), "x (columns, j)", "C3"), ((0, 1.6, 0), "y (rows, i)", "C2"),
                           ((0, 0, 1.6), "z (up)", "C0")):
        ax.quiver(0, 0, 0, *vec, color=col, arrow_length_ratio=0.08)
        ax.text(*(1.08 * np.array(vec)), name, color=col, fontsize=8)
    # the oblique camera (azimuth 270 degrees: on the -y side, looking towards +y)
    cam = 2.2 * np.array([0, -math.cos(math.radians(45)), math.sin(math.radians(45))])
    ax.scatter(*cam, marker="s", s=40, color="k")
    ax.plot([cam[0], 0], [cam[1], 0], [cam[2], 0], "k--", lw=0.8)
    ax.text(*cam, "  camera\n  (oblique: azimuth 270,\n  elevation 45)", fontsize=7)
    # a lamp at elevation 40, azimuth 35, with its elevation and azimuth arcs
    el, az = math.radians(40), math.radians(35)
    d = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    lamp = 2.0 * d
    ax.scatter(*lamp, s=80, color="orange", edgecolor="k")
    ax.plot([0, lamp[0]], [0, lamp[1]], [0, lamp[2]], color="orange")
    ax.text(*lamp, "  lamp", fontsize=8)
    ax.plot([0, lamp[0]], [0, lamp[1]], [0, 0], color="orange", ls=":")
    t = np.linspace(0, az, 30)
    ax.plot(0.7 * np.cos(t), 0.7 * np.sin(t), 0 * t, color="C1")
    ax.text(0.75 * math.cos(az / 2), 0.75 * math.sin(az / 2), 0, "azimuth", fontsize=7, color="C1")
    s = np.linspace(0, el, 30)
    r = 1.1
    ax.plot(r * np.cos(s) * math.cos(az), r * np.cos(s) * math.sin(az), r * np.sin(s), color="C4")
    ax.text(r * math.cos(el / 2) * math.cos(az), r * math.cos(el / 2) * math.sin(az),
            r * math.sin(el / 2), " elevation", fontsize=7, color="C4")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_zlim(0, 1.8)
    ax.set_box_aspect((1, 1, 0.6))
    ax.view_init(elev=24, azim=-60)
    ax.set_axis_off()
    ax.set_title("part frame (scene units)", fontsize=9)
    # top view: azimuths as a bench sees them
    ax2 = fig.add_subplot(1, 2, 2, projection="polar")
    ax2.set_theta_zero_location("E")
    ax2.set_theta_direction(1)
    ax2.set_rlim(90, 0)
    ax2.set_rticks([0, 30, 60, 90])
    ax2.set_rlabel_position(200)
    ax2.scatter([math.radians(270)], [45], marker="s", color="k", s=40)
    ax2.annotate("camera (azimuth 270)\nazimuth_from_camera = 0", (math.radians(270), 45),
                 xytext=(math.radians(240), 12), fontsize=7, arrowprops={"arrowstyle": "-", "lw": 0.5})
    ax2.scatter([math.radians(90)], [45], marker="x", color="k")
    ax2.annotate("camera's mirror direction\n(bright field; azimuth_from_camera 180)",
                 (math.radians(90), 45), xytext=(math.radians(120), 20), fontsize=7,
                 arrowprops={"arrowstyle": "-", "lw": 0.5})
    ax2.scatter([az], [40], s=80, color="orange", edgecolor="k")
    ax2.annotate("lamp: elevation 40,\nazimuth 35", (az, 40), xytext=(math.radians(10), 20), fontsize=7,
                 arrowprops={"arrowstyle": "-", "lw": 0.5})
    ax2.set_xticks(np.radians([0, 90, 180, 270]))
    ax2.set_xticklabels(["0: +x\n(columns)", "90: +y (rows)", "180: -x", "270: -y"], fontsize=7)
    ax2.set_title("seen from above: azimuth counter-clockwise from +x;\n"
                  "radius = elevation (90 at the centre, 0 at the rim)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


if __name__ == "__main__":
    main(*sys.argv[1:])
