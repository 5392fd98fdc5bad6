//! `https://` RPC URLs (`https://public-node.rsk.co`): alloy's HTTP transport is built with
//! rustls (`reqwest-rustls-tls` in the workspace's alloy features). Without it, reqwest refuses
//! every `https://` URL before connecting ("invalid URL, scheme is not http"). No test here needs
//! the network: one URL refuses the connection, the other is a local server that speaks plain
//! HTTP, so the client must have started a TLS handshake to fail the way it does.

use std::{
    io::{Read, Write},
    net::TcpListener,
    thread,
};

use alloy::providers::Provider;
use shiftpay_bindings::rpc::{NodeError, connect_http};

/// The whole cause chain of the provider's error, outermost first.
fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn assert_scheme_supported(chain: &str) {
    assert!(
        !chain.contains("scheme is not http"),
        "https:// is not supported: alloy was built without a TLS backend ({chain})"
    );
}

#[tokio::test]
async fn an_https_url_fails_to_connect_not_as_an_unsupported_scheme() {
    let provider = connect_http("https://127.0.0.1:1").unwrap();
    let err = provider.get_chain_id().await.unwrap_err();
    let chain = error_chain(&err);
    assert_scheme_supported(&chain);
    assert!(chain.contains("Connection refused"), "not a connection error: {chain}");
    let node = NodeError::from_transport("eth_chainId", &err);
    assert!(matches!(node, NodeError::Unreachable { .. }), "{node}");
    assert!(node.is_transient());
}

#[tokio::test]
async fn an_https_url_speaks_tls() {
    // A server that answers plain HTTP whatever it is sent: a TLS client reads garbage where it
    // expects a ServerHello and gives up with a TLS error.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut hello = [0u8; 5];
        stream.read_exact(&mut hello).unwrap();
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
        hello
    });

    let provider = connect_http(&format!("https://127.0.0.1:{port}")).unwrap();
    let err = provider.get_chain_id().await.unwrap_err();
    let chain = error_chain(&err);
    assert_scheme_supported(&chain);
    let hello = server.join().unwrap();
    assert_eq!(hello[0], 0x16, "the client's first byte is a TLS handshake record ({chain})");
    assert!(
        chain.contains("InvalidContentType") || chain.to_lowercase().contains("corrupt message"),
        "not a TLS error: {chain}"
    );
}
