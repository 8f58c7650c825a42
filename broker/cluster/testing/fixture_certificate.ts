/**
 * A self-signed certificate that ends in 2126, for tests that read a served certificate's dates
 * without openssl (the families of `/metrics`). Its key was not kept: nothing serves it.
 *
 * @module
 */

/** The PEM text (`openssl x509 -noout -enddate`: notAfter=Nov 12 05:50:31 2126 GMT). */
export const fixtureCertificatePem = `\
-----BEGIN CERTIFICATE-----
MIIBjzCCATWgAwIBAgIUd7AmP6abD/0iUhUTzc0DiblnzEIwCgYIKoZIzj0EAwIw
HDEaMBgGA1UEAwwRY21xZCB0ZXN0IGZpeHR1cmUwIBcNMjYxMjA2MDU1MDMxWhgP
MjEyNjExMTIwNTUwMzFaMBwxGjAYBgNVBAMMEWNtcWQgdGVzdCBmaXh0dXJlMFkw
EwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE5mld5Cqq1oZ/ISeJWFcVlx5kdxuEcATS
zmy58omuBrh0uKUSdbDGwdaCywuhxeS0CTAhMqWw2kvB1Aqaiu1n4qNTMFEwHQYD
VR0OBBYEFI9vPRdN0nwdnKg388A3wrRTqr41MB8GA1UdIwQYMBaAFI9vPRdN0nwd
nKg388A3wrRTqr41MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIh
AITLANslgbq9r3Qs5qXoQjKKXsaI7tYQjruejXYs5UoCAiBlHdqo+Id98FM6UJKD
p8VrE1RDPtSmCGR4tIg+lkEoTA==
-----END CERTIFICATE-----`;
