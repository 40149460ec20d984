//! The OCS Inventory NG / FusionInventory protocol at `/ocsinventory`: zlib-compressed (or
//! gzip, or plain) XML requests. A PROLOG is answered with `RESPONSE SEND` so the agent
//! sends its INVENTORY, whose sections (HARDWARE, BIOS, CPUS, MEMORIES, STORAGES, DRIVES,
//! NETWORKS, SOFTWARES, OPERATINGSYSTEM…) map onto the same asset model as wrench-agent.
//!
//! The device's company comes only from the per-company HTTP basic credentials; the agents
//! send credentials after a 401 challenge, so a request without them gets one. Wrong
//! credentials get 401 and nothing is stored.

use super::model::{Bios, Cpu, Disk, Filesystem, Interface, Inventory, Memory, Os, Package};
use super::service;
use crate::app::App;
use crate::error::ServiceError;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use quick_xml::events::Event;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::Arc;

pub const MAX_BODY: usize = 32 * 1024 * 1024;
const MAX_XML: u64 = 256 * 1024 * 1024;
const REALM: &str = "Wrench OCS inventory";

/// A parsed request: top-level fields (QUERY, DEVICEID) and the CONTENT sections in order.
#[derive(Debug, Default)]
pub struct OcsRequest {
    pub fields: BTreeMap<String, String>,
    pub sections: Vec<(String, BTreeMap<String, String>)>,
}

impl OcsRequest {
    pub fn query(&self) -> &str {
        self.fields.get("QUERY").map(String::as_str).unwrap_or("")
    }
    pub fn device_id(&self) -> &str {
        self.fields.get("DEVICEID").map(String::as_str).unwrap_or("")
    }
    fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a BTreeMap<String, String>> + 'a {
        self.sections.iter().filter(move |(n, _)| n == name).map(|(_, f)| f)
    }
    fn first<'a>(&'a self, name: &'a str) -> Option<&'a BTreeMap<String, String>> {
        self.all(name).next()
    }
}

/// Inflates zlib or gzip, or takes plain XML as it is.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    match body {
        [0x78, ..] => {
            flate2::read::ZlibDecoder::new(body)
                .take(MAX_XML)
                .read_to_end(&mut out)
                .map_err(|e| format!("zlib: {e}"))?;
        }
        [0x1f, 0x8b, ..] => {
            flate2::read::GzDecoder::new(body).take(MAX_XML).read_to_end(&mut out).map_err(|e| format!("gzip: {e}"))?;
        }
        _ => {
            let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
            if body.get(start) != Some(&b'<') {
                return Err("the body is neither zlib, gzip nor XML".into());
            }
            out = body.to_vec();
        }
    }
    Ok(out)
}

pub fn compress(xml: &str) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(xml.as_bytes());
    e.finish().unwrap_or_default()
}

/// Parses `<REQUEST>…<CONTENT><SECTION><FIELD>value</FIELD>…</SECTION>…</CONTENT></REQUEST>`.
pub fn parse(xml: &[u8]) -> Result<OcsRequest, String> {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut req = OcsRequest::default();
    let mut section: Option<(String, BTreeMap<String, String>)> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Err(e) => return Err(format!("XML error at byte {}: {e}", reader.buffer_position())),
            Ok(Event::Eof) => break,
            Ok(Event::Start(e)) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                path.push(name.clone());
                text.clear();
                // REQUEST/CONTENT/SECTION opens a section.
                if path.len() == 3 && path[1] == "CONTENT" {
                    section = Some((name, BTreeMap::new()));
                }
            }
            Ok(Event::Empty(_)) => {}
            Ok(Event::Text(t)) => text.push_str(&t.decode().map_err(|e| e.to_string())?),
            Ok(Event::CData(t)) => text.push_str(&String::from_utf8_lossy(&t)),
            Ok(Event::GeneralRef(r)) => {
                if let Ok(Some(c)) = r.resolve_char_ref() {
                    text.push(c);
                } else {
                    let name = r.decode().map_err(|e| e.to_string())?;
                    text.push_str(quick_xml::escape::resolve_predefined_entity(&name).unwrap_or(""));
                }
            }
            Ok(Event::End(_)) => {
                let value = text.trim().to_string();
                match path.len() {
                    // REQUEST/FIELD
                    2 if path[1] != "CONTENT" => {
                        req.fields.insert(path[1].clone(), value);
                    }
                    3 if path[1] == "CONTENT" => {
                        if let Some(s) = section.take() {
                            req.sections.push(s);
                        }
                    }
                    // REQUEST/CONTENT/SECTION/FIELD
                    4 if path[1] == "CONTENT" => {
                        if let Some((_, fields)) = section.as_mut() {
                            fields.insert(path[3].clone(), value);
                        }
                    }
                    _ => {}
                }
                text.clear();
                path.pop();
            }
            Ok(_) => {}
        }
        buf.clear();
    }
    if req.query().is_empty() {
        return Err("the request has no QUERY".into());
    }
    Ok(req)
}

fn field<'a>(m: Option<&'a BTreeMap<String, String>>, k: &str) -> &'a str {
    m.and_then(|m| m.get(k)).map(String::as_str).unwrap_or("")
}

fn num(s: &str) -> u64 {
    s.trim().split(|c: char| !c.is_ascii_digit() && c != '.').next().and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0)
        as u64
}

const MIB: u64 = 1024 * 1024;

/// A netmask (dotted IPv4 or IPv6) as a prefix length.
fn prefix_len(mask: &str) -> Option<u32> {
    if let Ok(v4) = mask.parse::<std::net::Ipv4Addr>() {
        return Some(u32::from(v4).count_ones());
    }
    if let Ok(v6) = mask.parse::<std::net::Ipv6Addr>() {
        return Some(u128::from(v6).count_ones());
    }
    mask.parse().ok()
}

/// Maps an INVENTORY's sections onto the asset model.
pub fn to_inventory(req: &OcsRequest) -> Inventory {
    let hw = req.first("HARDWARE");
    let os = req.first("OPERATINGSYSTEM");
    let bios = req.first("BIOS");
    let name_os = if field(os, "FULL_NAME").is_empty() { field(hw, "OSNAME") } else { field(os, "FULL_NAME") };
    let version = if field(os, "VERSION").is_empty() { field(hw, "OSVERSION") } else { field(os, "VERSION") };
    let kernel =
        if field(os, "KERNEL_VERSION").is_empty() { field(hw, "OSVERSION") } else { field(os, "KERNEL_VERSION") };
    let mut inv = Inventory {
        hostname: field(hw, "NAME").to_string(),
        os: Os {
            name: name_os.to_string(),
            version: version.to_string(),
            kernel: kernel.to_string(),
            arch: if field(os, "ARCH").is_empty() { field(hw, "ARCHNAME") } else { field(os, "ARCH") }.to_string(),
        },
        ..Default::default()
    };
    if inv.hostname.is_empty() {
        inv.hostname = field(os, "FQDN").to_string();
    }
    // CPUs: one section per socket.
    let cpus: Vec<_> = req.all("CPUS").collect();
    if !cpus.is_empty() {
        let cores: u64 = cpus.iter().map(|c| num(field(Some(c), "CORE")).max(1)).sum();
        let threads: u64 =
            cpus.iter().map(|c| num(field(Some(c), "THREAD")).max(1) * num(field(Some(c), "CORE")).max(1)).sum();
        inv.cpu = Cpu { model: field(cpus.first().copied(), "NAME").to_string(), cores, threads };
    } else {
        inv.cpu = Cpu {
            model: field(hw, "PROCESSORT").to_string(),
            cores: num(field(hw, "PROCESSORN")),
            threads: num(field(hw, "PROCESSORN")),
        };
    }
    let modules: u64 = req.all("MEMORIES").map(|m| num(field(Some(m), "CAPACITY"))).sum();
    let total_mb = if num(field(hw, "MEMORY")) > 0 { num(field(hw, "MEMORY")) } else { modules };
    inv.memory =
        Memory { total_bytes: total_mb * MIB, available_bytes: 0, swap_total_bytes: num(field(hw, "SWAP")) * MIB };
    if bios.is_some() {
        inv.bios = Some(Bios {
            manufacturer: field(bios, "SMANUFACTURER").to_string(),
            model: field(bios, "SMODEL").to_string(),
            serial: field(bios, "SSN").to_string(),
            bios_vendor: field(bios, "BMANUFACTURER").to_string(),
            bios_version: field(bios, "BVERSION").to_string(),
            bios_date: field(bios, "BDATE").to_string(),
        });
    }
    for s in req.all("STORAGES") {
        let s = Some(s);
        let name = field(s, "NAME");
        if name.is_empty() {
            continue;
        }
        inv.disks.push(Disk {
            name: name.to_string(),
            size_bytes: num(field(s, "DISKSIZE")) * MIB,
            model: field(s, "MODEL").to_string(),
            serial: field(s, "SERIALNUMBER").to_string(),
        });
    }
    for d in req.all("DRIVES") {
        let d = Some(d);
        // Windows names drives by letter; Unix agents put the mount point in TYPE.
        let mount = if !field(d, "LETTER").is_empty() { field(d, "LETTER") } else { field(d, "TYPE") };
        let total = num(field(d, "TOTAL")) * MIB;
        if mount.is_empty() || total == 0 {
            continue;
        }
        let free = num(field(d, "FREE")) * MIB;
        let used = total.saturating_sub(free);
        inv.filesystems.push(Filesystem {
            mount: mount.to_string(),
            device: field(d, "VOLUMN").to_string(),
            fs_type: field(d, "FILESYSTEM").to_string(),
            size_bytes: total,
            used_bytes: used,
            used_percent: ((used as f64 * 1000.0 / total as f64).round()) / 10.0,
        });
    }
    let mut nets: BTreeMap<String, Interface> = BTreeMap::new();
    for n in req.all("NETWORKS") {
        let n = Some(n);
        let name = if field(n, "DESCRIPTION").is_empty() { field(n, "MACADDR") } else { field(n, "DESCRIPTION") };
        if name.is_empty() {
            continue;
        }
        let e = nets.entry(name.to_string()).or_insert_with(|| Interface {
            name: name.to_string(),
            mac: field(n, "MACADDR").to_lowercase(),
            state: field(n, "STATUS").to_lowercase(),
            addresses: Vec::new(),
        });
        for (addr, mask) in [("IPADDRESS", "IPMASK"), ("IPADDRESS6", "IPMASK6")] {
            let a = field(n, addr);
            if a.is_empty() {
                continue;
            }
            let full = match prefix_len(field(n, mask)) {
                Some(p) => format!("{a}/{p}"),
                None => a.to_string(),
            };
            if !e.addresses.contains(&full) {
                e.addresses.push(full);
            }
        }
    }
    inv.interfaces = nets
        .into_values()
        .map(|mut i| {
            i.addresses.sort();
            i
        })
        .collect();
    for s in req.all("SOFTWARES") {
        let s = Some(s);
        let name = field(s, "NAME");
        if name.is_empty() {
            continue;
        }
        let from = field(s, "FROM");
        inv.packages.push(Package {
            name: name.to_string(),
            version: field(s, "VERSION").to_string(),
            arch: field(s, "ARCH").to_string(),
            manager: if from.is_empty() { "ocs".to_string() } else { from.to_string() },
        });
    }
    inv.packages.sort_by(|a, b| (&a.name, &a.arch, &a.version).cmp(&(&b.name, &b.arch, &b.version)));
    inv.packages.dedup_by(|a, b| a.name == b.name && a.arch == b.arch);
    inv
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let v = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, data) = v.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(data.trim()).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (u, p) = text.split_once(':')?;
    Some((u.to_string(), p.to_string()))
}

/// What the blocking part decided; turned into a response on the async side (an
/// `HttpResponse` cannot cross threads).
enum Answer {
    Challenge,
    BadRequest(String),
    Xml(&'static str),
}

fn challenge() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, format!("Basic realm=\"{REALM}\"")))
        .content_type("text/plain; charset=utf-8")
        .body("HTTP basic credentials of a company are needed here.\n")
}

fn reply(xml: &str) -> HttpResponse {
    HttpResponse::Ok().content_type("application/x-compress-zlib").body(compress(xml))
}

/// `POST /ocsinventory`.
pub async fn endpoint(app: web::Data<Arc<App>>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    let Some((user, pass)) = basic_credentials(&req) else { return challenge() };
    let app = app.get_ref().clone();
    let result = tokio::task::spawn_blocking(move || -> Result<Answer, ServiceError> {
        let company = match service::authenticate_ocs(&app, &user, &pass) {
            Ok(c) => c,
            Err(ServiceError::Unauthenticated) => {
                tracing::warn!(user = %user, "OCS request with wrong credentials refused");
                return Ok(Answer::Challenge);
            }
            Err(e) => return Err(e),
        };
        let xml = match decompress(&body).and_then(|x| parse(&x)) {
            Ok(x) => x,
            Err(e) => return Ok(Answer::BadRequest(e)),
        };
        match xml.query().to_ascii_uppercase().as_str() {
            "PROLOG" => Ok(Answer::Xml(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPLY><RESPONSE>SEND</RESPONSE><PROLOG_FREQ>24</PROLOG_FREQ></REPLY>\n",
            )),
            "INVENTORY" => {
                let inv = to_inventory(&xml);
                let id = service::ingest_ocs(&app, company, xml.device_id(), &inv)?;
                tracing::info!(asset = id, company, packages = inv.packages.len(), "OCS inventory filed");
                Ok(Answer::Xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPLY><RESPONSE>no_account_update</RESPONSE></REPLY>\n"))
            }
            other => {
                tracing::info!(query = other, "OCS query not supported; answered with no_update");
                Ok(Answer::Xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<REPLY><RESPONSE>no_update</RESPONSE></REPLY>\n"))
            }
        }
    })
    .await;
    match result {
        Ok(Ok(Answer::Challenge)) => challenge(),
        Ok(Ok(Answer::BadRequest(e))) => HttpResponse::BadRequest().content_type("text/plain").body(format!("{e}\n")),
        Ok(Ok(Answer::Xml(x))) => reply(x),
        Ok(Err(e)) => super::ingest::error_response(e),
        Err(e) => super::ingest::error_response(ServiceError::internal(format!("OCS task: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVENTORY: &str = r#"<?xml version="1.0" encoding="UTF-8" ?>
<REQUEST>
  <CONTENT>
    <HARDWARE><NAME>win-acct-01</NAME><OSNAME>Microsoft Windows 11 Pro</OSNAME><OSVERSION>10.0.22631</OSVERSION><MEMORY>16384</MEMORY></HARDWARE>
    <BIOS><SMANUFACTURER>Dell Inc.</SMANUFACTURER><SSN>ABC123</SSN></BIOS>
    <CPUS><NAME>Intel(R) Core(TM) i5</NAME><CORE>4</CORE><THREAD>2</THREAD></CPUS>
    <STORAGES><NAME>\\.\PHYSICALDRIVE0</NAME><DISKSIZE>476940</DISKSIZE><SERIALNUMBER>S1</SERIALNUMBER></STORAGES>
    <DRIVES><LETTER>C:</LETTER><FILESYSTEM>NTFS</FILESYSTEM><TOTAL>1000</TOTAL><FREE>50</FREE></DRIVES>
    <NETWORKS><DESCRIPTION>Ethernet</DESCRIPTION><IPADDRESS>10.1.2.3</IPADDRESS><IPMASK>255.255.255.0</IPMASK><MACADDR>AA:BB:CC:DD:EE:FF</MACADDR></NETWORKS>
    <SOFTWARES><NAME>Mozilla Firefox &amp; friends</NAME><VERSION>120.0</VERSION><FROM>registry</FROM></SOFTWARES>
  </CONTENT>
  <DEVICEID>win-acct-01-2026-11-28-08-00-00</DEVICEID>
  <QUERY>INVENTORY</QUERY>
</REQUEST>"#;

    #[test]
    fn windows_inventory_maps_onto_the_asset_model() {
        let req = parse(&decompress(&compress(INVENTORY)).unwrap()).unwrap();
        assert_eq!(req.query(), "INVENTORY");
        assert_eq!(req.device_id(), "win-acct-01-2026-11-28-08-00-00");
        let inv = to_inventory(&req);
        assert_eq!(inv.hostname, "win-acct-01");
        assert_eq!(inv.os.name, "Microsoft Windows 11 Pro");
        assert_eq!(inv.memory.total_bytes, 16384 * MIB);
        assert_eq!((inv.cpu.cores, inv.cpu.threads), (4, 8));
        assert_eq!(inv.bios.as_ref().unwrap().serial, "ABC123");
        assert_eq!(inv.disks[0].name, "\\\\.\\PHYSICALDRIVE0");
        assert_eq!(inv.filesystems[0].mount, "C:");
        assert_eq!(inv.filesystems[0].used_percent, 95.0);
        assert_eq!(inv.interfaces[0].addresses, vec!["10.1.2.3/24".to_string()]);
        assert_eq!(inv.packages[0].name, "Mozilla Firefox & friends");
        assert_eq!(inv.packages[0].manager, "registry");
    }

    #[test]
    fn prolog_and_garbage() {
        let p =
            parse(b"<?xml version=\"1.0\"?><REQUEST><DEVICEID>x</DEVICEID><QUERY>PROLOG</QUERY></REQUEST>").unwrap();
        assert_eq!(p.query(), "PROLOG");
        assert!(decompress(b"hello").is_err());
        assert!(parse(b"<REQUEST></REQUEST>").is_err());
    }
}
