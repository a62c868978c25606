"""Write the project's own small course exports: an IMS Common Cartridge (as Canvas writes one) and an Open
edX OLX course (as Studio exports one), for `make demo` and the tests. Run: python data/make_lms_samples.py

The content is ours; the shapes follow the IMS CC 1.3 and OLX documentation. Output is byte-stable.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
NS = ('xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imscp_v1p1" '
      'xmlns:lomimscc="http://ltsc.ieee.org/xsd/imsccv1p3/LOM/manifest"')


def cartridge_files(course_id: str = "nw-cc-101", title: str = "Data Literacy Basics") -> dict[str, str]:
    """name -> content of a small cartridge: two modules (one with a sub-module and a header), a page,
    a web link, a video link, a quiz, a discussion, an assignment and a PDF."""
    manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
<manifest identifier="{course_id}" {NS}>
  <metadata>
    <schema>IMS Common Cartridge</schema>
    <schemaversion>1.3.0</schemaversion>
    <lomimscc:lom>
      <lomimscc:general>
        <lomimscc:title><lomimscc:string>{title}</lomimscc:string></lomimscc:title>
        <lomimscc:language>en-GB</lomimscc:language>
        <lomimscc:description><lomimscc:string>Read charts, tables and claims with care.</lomimscc:string></lomimscc:description>
        <lomimscc:keyword><lomimscc:string>data, statistics</lomimscc:string></lomimscc:keyword>
      </lomimscc:general>
    </lomimscc:lom>
  </metadata>
  <organizations>
    <organization identifier="org_1" structure="rooted-hierarchy">
      <item identifier="LearningModules">
        <item identifier="m1">
          <title>Week 1: Reading numbers</title>
          <item identifier="h1"><title>Start here</title></item>
          <item identifier="l1" identifierref="r_page"><title>What a number claims</title></item>
          <item identifier="l2" identifierref="r_video"><title>Averages, explained</title></item>
          <item identifier="m1a">
            <title>Practice</title>
            <item identifier="l3" identifierref="r_quiz"><title>Check yourself</title></item>
            <item identifier="l4" identifierref="r_pdf"><title>Worksheet</title></item>
          </item>
        </item>
        <item identifier="m2">
          <title>Week 2: Charts</title>
          <item identifier="l5" identifierref="r_link"><title>A gallery of misleading charts</title></item>
          <item identifier="l6" identifierref="r_topic"><title>Share a chart you found</title></item>
          <item identifier="l7" identifierref="r_assign"><title>Redraw a chart</title></item>
        </item>
      </item>
    </organization>
  </organizations>
  <resources>
    <resource identifier="r_page" type="webcontent" href="wiki_content/what-a-number-claims.html">
      <file href="wiki_content/what-a-number-claims.html"/>
    </resource>
    <resource identifier="r_video" type="imswl_xmlv1p3"><file href="r_video.xml"/></resource>
    <resource identifier="r_link" type="imswl_xmlv1p3"><file href="r_link.xml"/></resource>
    <resource identifier="r_quiz" type="imsqti_xmlv1p2/imscc_xmlv1p3/assessment"><file href="r_quiz/assessment_qti.xml"/></resource>
    <resource identifier="r_pdf" type="webcontent" href="web_resources/worksheet.pdf"><file href="web_resources/worksheet.pdf"/></resource>
    <resource identifier="r_topic" type="imsdt_xmlv1p3"><file href="r_topic.xml"/></resource>
    <resource identifier="r_assign" type="assignment_xmlv1p0" href="r_assign/assignment.xml"><file href="r_assign/assignment.xml"/></resource>
  </resources>
</manifest>
"""
    weblink = ('<?xml version="1.0" encoding="UTF-8"?>\n<webLink xmlns="http://www.imsglobal.org/xsd/imsccv1p3/imswl_v1p3">'
               '<title>{}</title><url href="{}"/></webLink>\n')
    return {
        "imsmanifest.xml": manifest,
        "wiki_content/what-a-number-claims.html": "<html><head><title>What a number claims</title></head><body>"
        "<p>Every number <strong>answers a question</strong>. Ask which one.</p><script>alert(1)</script>"
        "</body></html>\n",
        "r_video.xml": weblink.format("Averages, explained", "https://www.youtube.com/watch?v=dQw4w9WgXcQ"),
        "r_link.xml": weblink.format("A gallery of misleading charts", "https://www.example.org/misleading-charts"),
        "r_quiz/assessment_qti.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<questestinterop '
        'xmlns="http://www.imsglobal.org/xsd/ims_qtiasiv1p2"><assessment ident="r_quiz" title="Check yourself"/>'
        "</questestinterop>\n",
        "web_resources/worksheet.pdf": "%PDF-1.4\n% a placeholder worksheet\n",
        "r_topic.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<topic xmlns="http://www.imsglobal.org/xsd/imsccv1p3/'
        'imsdt_v1p3"><title>Share a chart you found</title><text texttype="text/html">&lt;p&gt;Post one chart '
        "and say what it hides.&lt;/p&gt;</text></topic>\n",
        "r_assign/assignment.xml": '<?xml version="1.0" encoding="UTF-8"?>\n<assignment identifier="r_assign" '
        'xmlns="http://www.imsglobal.org/xsd/imscc_extensions/assignment"><title>Redraw a chart</title>'
        '<text texttype="text/html">&lt;p&gt;Redraw it honestly.&lt;/p&gt;</text></assignment>\n',
    }


def write_zip(path: Path, files: dict[str, str | bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), content)


def olx_files(org: str = "Northwind", number: str = "NW201", run: str = "2026") -> dict[str, str]:
    """name -> content of a small OLX course: two chapters, three sequentials, five verticals."""
    return {
        "course/course.xml": f'<course url_name="{run}" org="{org}" course="{number}"/>\n',
        f"course/course/{run}.xml": '<course display_name="Spreadsheets for Teams" language="de" '
        'start="2026-03-01T00:00:00Z">\n  <chapter url_name="ch1"/>\n  <chapter url_name="ch2"/>\n</course>\n',
        "course/chapter/ch1.xml": '<chapter display_name="Getting started">\n  <sequential url_name="sq1"/>\n'
        '  <sequential url_name="sq2"/>\n</chapter>\n',
        "course/chapter/ch2.xml": '<chapter display_name="Working together">\n  <sequential url_name="sq3"/>\n'
        "</chapter>\n",
        "course/sequential/sq1.xml": '<sequential display_name="Welcome">\n  <vertical url_name="v1"/>\n'
        '  <vertical url_name="v2"/>\n</sequential>\n',
        "course/sequential/sq2.xml": '<sequential display_name="First formulas">\n  <vertical url_name="v3"/>\n'
        "</sequential>\n",
        # written inline, as older exports do
        "course/sequential/sq3.xml": '<sequential display_name="Sharing">\n'
        '  <vertical url_name="v4" display_name="Comments and versions">\n'
        '    <html url_name="h4" display_name="Notes"><![CDATA[<p>Comment, do not overwrite.</p>]]></html>\n'
        '  </vertical>\n  <vertical url_name="v5"/>\n</sequential>\n',
        "course/vertical/v1.xml": '<vertical display_name="Why spreadsheets">\n  <video url_name="vid1"/>\n'
        '  <html url_name="h1"/>\n</vertical>\n',
        "course/vertical/v2.xml": '<vertical display_name="Your first sheet">\n  <html url_name="h2"/>\n</vertical>\n',
        "course/vertical/v3.xml": '<vertical display_name="Quick check">\n  <problem url_name="p1"/>\n</vertical>\n',
        "course/vertical/v5.xml": '<vertical display_name="Try the shared workbook">\n  <lti url_name="lti1"/>\n'
        "</vertical>\n",
        "course/video/vid1.xml": '<video url_name="vid1" display_name="Why spreadsheets" '
        'youtube_id_1_0="aqz-KE-bpKQ" html5_sources="[]"/>\n',
        "course/html/h1.xml": '<html filename="h1" display_name="Intro"/>\n',
        "course/html/h1.html": "<p>Spreadsheets are how teams <em>think</em> in numbers.</p>\n",
        "course/html/h2.xml": '<html filename="h2" display_name="First sheet"/>\n',
        "course/html/h2.html": "<p>Open a new sheet and name it.</p>\n",
        "course/problem/p1.xml": '<problem display_name="Quick check"><multiplechoiceresponse><choicegroup>'
        '<choice correct="true">=SUM(A1:A3)</choice><choice correct="false">SUM A1-A3</choice></choicegroup>'
        "</multiplechoiceresponse></problem>\n",
        "course/lti/lti1.xml": '<lti display_name="Shared workbook" launch_url="https://tools.example.org/lti/launch"/>\n',
        "course/about/overview.html": "<section><h2>About this course</h2><p>Spreadsheets, shared well.</p></section>\n",
        "course/about/short_description.html": "Spreadsheets for teams, in five short units.\n",
        f"course/policies/{run}/policy.json": f'{{"course/{run}": {{"display_name": "Spreadsheets for Teams"}}}}\n',
    }


def write_tar_gz(path: Path, files: dict[str, str | bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(buffer.getvalue())


def main() -> None:
    write_zip(HERE / "catalogs" / "cartridges" / "data-literacy.imscc", cartridge_files())
    write_tar_gz(HERE / "catalogs" / "spreadsheets-for-teams-olx.tar.gz", olx_files())


if __name__ == "__main__":
    main()
