package simulator

// ispKind is what an address block is used for.
type ispKind uint8

const (
	kindResidential ispKind = iota // home broadband: DSL, cable, fibre
	kindBusiness                   // offices, hotels, cafés: the same access ISPs' business lines
	kindMobile                     // mobile carriers, behind carrier-grade NAT
	kindHosting                    // data centres: cloud, VPS and VPN exits
)

// ISP is an autonomous system. Numbers and names are the real ones (as
// RIPE, ARIN, APNIC, LACNIC and AFRINIC register them); the address blocks
// the simulator gives them are not their real ones (see ipplan.go).
type ISP struct {
	ASN     uint32
	Org     string
	Country string
	Kind    ispKind
	// IPv6: the ISP gives its customers IPv6. Dual-stack browsers then
	// prefer it (RFC 8305), so most of their logins come over IPv6.
	IPv6 bool
	// share weights the ISP among the country's ISPs of its kind.
	share float64
}

// isps lists access networks by country: residential (also used for the
// country's business lines: hotels, offices) and mobile. Countries without
// users still have them: attackers' residential proxies and botnets live
// there, and so do travellers' hotels.
var isps = []ISP{
	{3215, "Orange S.A.", "FR", kindResidential, true, 40}, {15557, "Societe Francaise Du Radiotelephone - SFR SA", "FR", kindResidential, true, 20},
	{12322, "Free SAS", "FR", kindResidential, true, 25}, {5410, "Bouygues Telecom SA", "FR", kindResidential, true, 15},
	{3215, "Orange S.A.", "FR", kindMobile, true, 40}, {51207, "Free Mobile SAS", "FR", kindMobile, true, 20},
	{5410, "Bouygues Telecom SA", "FR", kindMobile, false, 20}, {15557, "Societe Francaise Du Radiotelephone - SFR SA", "FR", kindMobile, false, 20},

	{3320, "Deutsche Telekom AG", "DE", kindResidential, true, 45}, {3209, "Vodafone GmbH", "DE", kindResidential, true, 35},
	{8881, "1&1 Versatel Deutschland GmbH", "DE", kindResidential, false, 20},
	{3320, "Deutsche Telekom AG", "DE", kindMobile, true, 40}, {3209, "Vodafone GmbH", "DE", kindMobile, false, 30}, {6805, "Telefonica Germany GmbH & Co.OHG", "DE", kindMobile, false, 30},

	{2856, "British Telecommunications PLC", "GB", kindResidential, true, 40}, {5089, "Virgin Media Limited", "GB", kindResidential, false, 30},
	{5607, "Sky UK Limited", "GB", kindResidential, true, 30},
	{12576, "EE Limited", "GB", kindMobile, true, 50}, {25135, "Vodafone Limited", "GB", kindMobile, false, 50},

	{3352, "Telefonica De Espana S.A.U.", "ES", kindResidential, false, 60}, {12479, "Orange Espagne SA", "ES", kindResidential, false, 40},
	{12430, "Vodafone Espana S.A.U.", "ES", kindMobile, false, 100},
	{3269, "Telecom Italia S.p.A.", "IT", kindResidential, false, 60}, {12874, "Fastweb SpA", "IT", kindResidential, true, 40},
	{30722, "Vodafone Italia S.p.A.", "IT", kindMobile, false, 100},
	{1136, "KPN B.V.", "NL", kindResidential, true, 50}, {33915, "Vodafone Libertel B.V.", "NL", kindResidential, true, 50},
	{1136, "KPN B.V.", "NL", kindMobile, true, 100},
	{5432, "Proximus NV", "BE", kindResidential, true, 55}, {6848, "Telenet BV", "BE", kindResidential, true, 45},
	{5432, "Proximus NV", "BE", kindMobile, true, 100},
	{3303, "Swisscom (Schweiz) AG", "CH", kindResidential, true, 60}, {6730, "Sunrise GmbH", "CH", kindResidential, true, 40},
	{3303, "Swisscom (Schweiz) AG", "CH", kindMobile, true, 100},
	{8447, "A1 Telekom Austria AG", "AT", kindResidential, false, 100}, {8447, "A1 Telekom Austria AG", "AT", kindMobile, false, 100},
	{5617, "Orange Polska Spolka Akcyjna", "PL", kindResidential, false, 100}, {5617, "Orange Polska Spolka Akcyjna", "PL", kindMobile, false, 100},
	{3301, "Telia Company AB", "SE", kindResidential, true, 100}, {3301, "Telia Company AB", "SE", kindMobile, true, 100},
	{5466, "Eircom Limited", "IE", kindResidential, false, 100}, {5466, "Eircom Limited", "IE", kindMobile, false, 100},
	{3243, "MEO - Servicos De Comunicacoes E Multimedia S.A.", "PT", kindResidential, false, 60}, {2860, "NOS Comunicacoes, S.A.", "PT", kindResidential, false, 40},
	{3243, "MEO - Servicos De Comunicacoes E Multimedia S.A.", "PT", kindMobile, false, 100},
	{1759, "Telia Finland Oyj", "FI", kindResidential, true, 100}, {1759, "Telia Finland Oyj", "FI", kindMobile, true, 100},
	{8708, "RCS & RDS SA", "RO", kindResidential, true, 100}, {8708, "RCS & RDS SA", "RO", kindMobile, false, 100},
	{15895, "Kyivstar PJSC", "UA", kindResidential, false, 100}, {15895, "Kyivstar PJSC", "UA", kindMobile, false, 100},
	{12389, "PJSC Rostelecom", "RU", kindResidential, false, 60}, {8359, "MTS PJSC", "RU", kindResidential, false, 40},
	{8359, "MTS PJSC", "RU", kindMobile, false, 100},
	{9121, "Turk Telekomunikasyon Anonim Sirketi", "TR", kindResidential, false, 100}, {9121, "Turk Telekomunikasyon Anonim Sirketi", "TR", kindMobile, false, 100},

	{7922, "Comcast Cable Communications, LLC", "US", kindResidential, true, 35}, {20115, "Charter Communications", "US", kindResidential, true, 25},
	{7018, "AT&T Services, Inc.", "US", kindResidential, true, 20}, {701, "Verizon Business", "US", kindResidential, false, 20},
	{22394, "Verizon Wireless", "US", kindMobile, true, 40}, {21928, "T-Mobile USA, Inc.", "US", kindMobile, true, 40}, {20057, "AT&T Mobility LLC", "US", kindMobile, true, 20},
	{812, "Rogers Communications Canada Inc.", "CA", kindResidential, true, 50}, {577, "Bell Canada", "CA", kindResidential, false, 50},
	{812, "Rogers Communications Canada Inc.", "CA", kindMobile, true, 100},
	{8151, "UNINET", "MX", kindResidential, false, 100}, {8151, "UNINET", "MX", kindMobile, false, 100},
	{28573, "Claro NXT Telecomunicacoes Ltda", "BR", kindResidential, true, 50}, {18881, "TELEFONICA BRASIL S.A", "BR", kindResidential, true, 50},
	{26615, "TIM S/A", "BR", kindMobile, false, 100},
	{7303, "Telecom Argentina S.A.", "AR", kindResidential, false, 100}, {7303, "Telecom Argentina S.A.", "AR", kindMobile, false, 100},

	{4713, "NTT Communications Corporation", "JP", kindResidential, true, 50}, {2516, "KDDI CORPORATION", "JP", kindResidential, true, 50},
	{9605, "NTT DOCOMO, INC.", "JP", kindMobile, true, 100},
	{3758, "SingNet Pte Ltd", "SG", kindResidential, true, 100}, {4773, "MobileOne Ltd.", "SG", kindMobile, false, 100},
	{24560, "Bharti Airtel Ltd., Telemedia Services", "IN", kindResidential, true, 50}, {9829, "National Internet Backbone", "IN", kindResidential, false, 50},
	{55836, "Reliance Jio Infocomm Limited", "IN", kindMobile, true, 100},
	{45899, "VNPT Corp", "VN", kindResidential, false, 50}, {18403, "FPT Telecom Company", "VN", kindResidential, true, 50},
	{7552, "Viettel Group", "VN", kindMobile, false, 100},
	{7713, "PT Telekomunikasi Indonesia", "ID", kindResidential, false, 100}, {23693, "PT. Telekomunikasi Selular", "ID", kindMobile, false, 100},
	{4134, "Chinanet", "CN", kindResidential, false, 60}, {4837, "CHINA UNICOM China169 Backbone", "CN", kindResidential, false, 40},
	{4837, "CHINA UNICOM China169 Backbone", "CN", kindMobile, false, 100},
	{4766, "Korea Telecom", "KR", kindResidential, true, 100}, {4766, "Korea Telecom", "KR", kindMobile, true, 100},
	{7470, "TRUE INTERNET Co.,Ltd.", "TH", kindResidential, false, 100}, {7470, "TRUE INTERNET Co.,Ltd.", "TH", kindMobile, false, 100},
	{9299, "Philippine Long Distance Telephone Company", "PH", kindResidential, false, 100}, {9299, "Philippine Long Distance Telephone Company", "PH", kindMobile, false, 100},
	{5384, "Emirates Telecommunications Group Company (ETISALAT GROUP) PJSC", "AE", kindResidential, false, 100}, {5384, "Emirates Telecommunications Group Company (ETISALAT GROUP) PJSC", "AE", kindMobile, false, 100},
	{4760, "HKT Limited", "HK", kindResidential, false, 100}, {4760, "HKT Limited", "HK", kindMobile, false, 100},
	{17557, "Pakistan Telecommunication Company Limited", "PK", kindResidential, false, 100}, {17557, "Pakistan Telecommunication Company Limited", "PK", kindMobile, false, 100},

	{29465, "MTN NIGERIA Communication limited", "NG", kindResidential, false, 100}, {29465, "MTN NIGERIA Communication limited", "NG", kindMobile, false, 100},
	{37457, "Telkom SA Ltd.", "ZA", kindResidential, false, 100}, {29975, "Vodacom", "ZA", kindMobile, false, 100},
	{8452, "TE Data", "EG", kindResidential, false, 100}, {8452, "TE Data", "EG", kindMobile, false, 100},

	{1221, "Telstra Limited", "AU", kindResidential, true, 60}, {4804, "Optus Internet Pty Ltd", "AU", kindResidential, false, 40},
	{1221, "Telstra Limited", "AU", kindMobile, true, 100},
}

// Hosting is a data-centre operator and the cities it has capacity in.
// All are on riskgate's built-in hosting ASN list (enrich/iplist), as the
// real ones are.
type Hosting struct {
	ISP
	Cities []string
}

var hostings = []Hosting{
	{ISP{16509, "Amazon.com, Inc.", "US", kindHosting, true, 30}, []string{"Ashburn", "Dublin", "Frankfurt am Main", "Paris", "London", "Stockholm", "Tokyo", "Singapore", "Mumbai", "São Paulo", "Sydney", "Seattle"}},
	{ISP{14061, "DigitalOcean, LLC", "US", kindHosting, true, 20}, []string{"New York", "San Francisco", "Amsterdam", "Frankfurt am Main", "London", "Singapore", "Bengaluru", "Toronto", "Sydney"}},
	{ISP{16276, "OVH SAS", "FR", kindHosting, true, 15}, []string{"Roubaix", "Frankfurt am Main", "London", "Warsaw", "Montreal", "Singapore", "Sydney"}},
	{ISP{24940, "Hetzner Online GmbH", "DE", kindHosting, true, 15}, []string{"Falkenstein", "Nuremberg", "Helsinki", "Ashburn"}},
	{ISP{20473, "The Constant Company, LLC", "US", kindHosting, true, 10}, []string{"New York", "Dallas", "Los Angeles", "Amsterdam", "Paris", "Tokyo", "Seoul", "Mexico City", "Johannesburg"}},
	{ISP{45102, "Alibaba US Technology Co., Ltd.", "CN", kindHosting, false, 5}, []string{"Shanghai", "Hong Kong", "Singapore", "Dubai"}},
	{ISP{8075, "Microsoft Corporation", "US", kindHosting, true, 10}, []string{"Washington", "Amsterdam", "Dublin", "Hong Kong", "Singapore", "São Paulo"}},
}

// VPNProvider is a consumer VPN service: its exits are rented servers in
// hosting networks, one provider per data-centre network here (M247,
// Datacamp/CDN77, Clouvider are the usual landlords of NordVPN, ProtonVPN,
// Surfshark, ExpressVPN and friends).
type VPNProvider struct {
	Name    string
	Network ISP
	Exits   []string
	// Flagged is the share of exits an Anonymous-IP database knows as VPN:
	// commercial VPN exits are well covered, not perfectly.
	Flagged float64
}

var vpnProviders = []VPNProvider{
	{"NordVPN", ISP{9009, "M247 Europe SRL", "RO", kindHosting, false, 40}, []string{"Paris", "Frankfurt am Main", "London", "Amsterdam", "Madrid", "Milan", "Zurich", "Stockholm", "Brussels", "Vienna", "Warsaw", "Dublin", "Lisbon", "New York", "Chicago", "Los Angeles", "Toronto", "Tokyo", "Singapore", "Sydney", "São Paulo", "Bucharest", "Istanbul", "Johannesburg"}, 0.9},
	{"ProtonVPN", ISP{60068, "Datacamp Limited", "GB", kindHosting, false, 35}, []string{"Paris", "Lyon", "Marseille", "Frankfurt am Main", "Berlin", "London", "Manchester", "Amsterdam", "Madrid", "Milan", "Zurich", "Geneva", "Vienna", "Stockholm", "Warsaw", "New York", "Washington", "Dallas", "Los Angeles", "Seattle", "Toronto", "Tokyo", "Singapore", "Hong Kong", "Sydney", "São Paulo", "Mumbai", "Kyiv"}, 0.85},
	{"Surfshark", ISP{62240, "Clouvider Limited", "GB", kindHosting, false, 25}, []string{"London", "Paris", "Frankfurt am Main", "Amsterdam", "New York", "Los Angeles", "Dublin", "Brussels", "Stockholm", "Lisbon"}, 0.8},
}
