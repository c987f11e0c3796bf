//! Office formats: PDF through pdf-extract, DOCX as the zip of XML it is (zip +
//! quick-xml). Both read hostile bytes, so both are bounded and a panic in a parser is
//! a skipped resource, not a dead worker.

use std::io::{Cursor, Read};
use std::panic::{AssertUnwindSafe, catch_unwind};

use quick_xml::Reader;
use quick_xml::events::Event;

use super::extract::Skip;

/// Most bytes a DOCX's `word/document.xml` may inflate to (a zip bomb stops here).
const MAX_XML: u64 = 64 << 20;

/// The text of a PDF.
pub fn pdf(bytes: &[u8]) -> Result<String, Skip> {
    // pdf-extract panics on some malformed files; that must not take the worker down.
    match catch_unwind(AssertUnwindSafe(|| {
        pdf_extract::extract_text_from_mem(bytes)
    })) {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(e)) => Err(Skip(format!("unreadable PDF: {e}"))),
        Err(_) => Err(Skip("unreadable PDF: the parser gave up".into())),
    }
}

/// The text of a DOCX: paragraphs on their own lines, tabs and breaks kept.
pub fn docx(bytes: &[u8]) -> Result<String, Skip> {
    docx_within(bytes, MAX_XML)
}

fn docx_within(bytes: &[u8], max_xml: u64) -> Result<String, Skip> {
    let bad = |e: &dyn std::fmt::Display| Skip(format!("unreadable DOCX: {e}"));
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut xml = Vec::new();
    archive
        .by_name("word/document.xml")
        .map_err(|e| bad(&e))?
        .take(max_xml + 1)
        .read_to_end(&mut xml)
        .map_err(|e| bad(&e))?;
    // Refused, not cut: half a document indexed as if whole would mislead.
    if xml.len() as u64 > max_xml {
        return Err(Skip(format!(
            "DOCX text part inflates beyond {max_xml} bytes"
        )));
    }
    let mut reader = Reader::from_reader(xml.as_slice());
    let mut text = String::new();
    let mut in_text = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf).map_err(|e| bad(&e))? {
            Event::Start(e) if e.local_name().as_ref() == b"t" => in_text = true,
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => text.push('\n'),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"tab" => text.push('\t'),
                b"br" | b"cr" => text.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text => text.push_str(&t.decode().map_err(|e| bad(&e))?),
            Event::GeneralRef(r) if in_text => {
                // Entity references (&amp; and friends) arrive apart from the text.
                let name = r.decode().map_err(|e| bad(&e))?;
                let resolved = quick_xml::escape::unescape(&format!("&{name};"))
                    .map_err(|e| bad(&e))?
                    .into_owned();
                text.push_str(&resolved);
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(text)
}

/// Test documents built the way real writers lay them out.
#[cfg(test)]
pub(crate) mod fixtures {
    use std::io::Write;

    /// A one-page PDF showing `line` in Helvetica.
    pub fn pdf(line: &str) -> Vec<u8> {
        let content = format!("BT /F1 24 Tf 72 700 Td ({line}) Tj ET");
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_string(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
             /Resources << /Font << /F1 5 0 R >> >> >>"
                .to_string(),
            format!(
                "<< /Length {} >>\nstream\n{content}\nendstream",
                content.len()
            ),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"
                .to_string(),
        ];
        let mut out = b"%PDF-1.4\n".to_vec();
        let mut offsets = Vec::new();
        for (i, o) in objects.iter().enumerate() {
            offsets.push(out.len());
            out.extend_from_slice(format!("{} 0 obj\n{o}\nendobj\n", i + 1).as_bytes());
        }
        let xref = out.len();
        out.extend_from_slice(
            format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
        );
        for o in offsets {
            out.extend_from_slice(format!("{o:010} 00000 n \n").as_bytes());
        }
        out.extend_from_slice(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .as_bytes(),
        );
        out
    }

    /// A DOCX whose body is `paragraphs` (Word's namespace and run structure).
    pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
        let body: String = paragraphs
            .iter()
            .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
            .collect();
        let xml = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
             <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\">\
             <w:body>{body}</w:body></w:document>"
        );
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("[Content_Types].xml", opts).unwrap();
        zip.write_all(b"<Types/>").unwrap();
        zip.start_file("word/document.xml", opts).unwrap();
        zip.write_all(xml.as_bytes()).unwrap();
        zip.finish().unwrap().into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn works_when_pdf_holds_text() {
        let text = pdf(&fixtures::pdf("Hello from the Rhine valley")).unwrap();
        assert!(text.contains("Hello from the Rhine valley"), "{text:?}");
    }

    #[test]
    fn works_when_docx_holds_paragraphs_and_entities() {
        let doc = fixtures::docx(&["Minutes of the meeting", "Tom &amp; Jerry agreed"]);
        assert_eq!(
            docx(&doc).unwrap(),
            "Minutes of the meeting\nTom & Jerry agreed\n"
        );
    }

    #[test]
    fn errors_when_docx_inflates_beyond_the_cap() {
        // A highly compressible part (a zip bomb in small): 100 KB of paragraphs.
        let big = "a".repeat(100_000);
        let doc = fixtures::docx(&[&big]);
        assert!(doc.len() < 5_000, "compressed to {}", doc.len());
        let err = docx_within(&doc, 50_000).unwrap_err();
        assert_eq!(err.0, "DOCX text part inflates beyond 50000 bytes");
        assert_eq!(docx_within(&doc, 200_000).unwrap().len(), 100_001);
    }

    #[test]
    fn errors_when_bytes_are_not_the_format() {
        assert!(
            pdf(b"%PDF-1.4 garbage")
                .unwrap_err()
                .0
                .starts_with("unreadable PDF")
        );
        assert!(
            docx(b"PK not a zip")
                .unwrap_err()
                .0
                .starts_with("unreadable DOCX")
        );
    }
}
